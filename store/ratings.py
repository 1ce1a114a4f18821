"""Customers' satisfaction ratings: one per closed chat, settled by the database.

A rating names its chat by the public reference the rating card carried, or (typed as
one of the choices, on channels without cards) means the customer's last chat, when
it is closed within the rating window and nothing newer is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update

from store.console_models import Rating
from store.models import Chat, ChatState, Customer, MessageKind
from store.unit import Unit
from store.views import ChatView, chat_view
from store.vocabulary import Refusal, Refused

# How long after the close a rating is still taken (the report's roll-ups count on it:
# a day whose chats all closed before it can no longer change, ``store.report_days``).
RATING_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class RatingTurn:
    """A customer's answer to the rating question, as the intake read it."""

    channel_id: str
    user_id: str
    ref: str | None  # from the card; None when typed
    score: int | None  # None: a comment sent after the score (``do_comment``)
    comment: str | None


@dataclass(frozen=True)
class Rated:
    chat: ChatView
    score: int
    comment: str | None


@dataclass(frozen=True)
class RatingTarget:
    """The chat a rating is for (``chat_id`` None: no such chat of this customer)."""

    chat_id: int | None
    state: ChatState | None
    closed_at: datetime | None
    customer: str


async def check_rating(tx: Unit, turn: RatingTurn, window: timedelta) -> RatingTarget | Refused:
    """Which chat the answer rates: the one the card names, or (typed) the customer's
    last chat closed within the window with nothing newer open. ``NOTHING_TO_RATE``: a
    typed choice with no chat waiting for a rating (an ordinary message, then)."""
    session = tx.session
    customer = await session.scalar(
        select(Customer).where(
            Customer.channel_id == turn.channel_id, Customer.user_id == turn.user_id
        )
    )
    chat: Chat | None = None
    if customer is not None and turn.ref is not None:
        chat = await session.scalar(
            select(Chat).where(Chat.public_id == turn.ref, Chat.customer_id == customer.id)
        )
    elif customer is not None:
        still_open = exists().where(Chat.customer_id == customer.id, Chat.state != ChatState.CLOSED)
        # Rated or not: a typed repeat is thanked like a pressed one.
        chat = await session.scalar(
            select(Chat)
            .where(
                Chat.customer_id == customer.id,
                Chat.state == ChatState.CLOSED,
                Chat.closed_at >= tx.now - window,
                ~still_open,
            )
            .order_by(Chat.closed_at.desc(), Chat.id.desc())
            .limit(1)
        )
    if chat is None and turn.ref is None:
        # Nothing to rate: the intake handles it as a message, with the same keys.
        return Refused(Refusal.NOTHING_TO_RATE)
    return RatingTarget(
        chat.id if chat else None,
        chat.state if chat else None,
        chat.closed_at if chat else None,
        customer.name if customer else "",
    )


async def do_rate_chat(
    tx: Unit, target: RatingTarget, turn: RatingTurn, window: timedelta
) -> Rated | Refused:
    """Keep the rating: once per chat (the unique chat id decides), within the window.

    A refusal (no closed chat of this customer by that reference, the window passed,
    rated before) is answered politely and changes nothing.
    """
    late = _unratable(tx, target, window)
    if late is not None or turn.score is None:
        return late or Refused(Refusal.NOTHING_TO_RATE)
    stored = await tx.insert_ignore(
        Rating,
        {
            "chat_id": target.chat_id,
            "score": turn.score,
            "comment": turn.comment,
            "created_at": tx.now,
        },
    )
    if not stored:
        return Refused(Refusal.ALREADY_RATED)
    tx.note(target.chat_id, MessageKind.ACTIVITY, target.customer, f"rated_{turn.score}")
    if turn.comment:
        tx.note(target.chat_id, MessageKind.INCOMING, target.customer, turn.comment)
    return Rated(await chat_view(tx.session, target.chat_id), turn.score, turn.comment)


def _unratable(tx: Unit, target: RatingTarget, window: timedelta) -> Refused | None:
    """Why the target cannot be rated (or commented on) now, if it cannot."""
    if target.chat_id is None or target.state != ChatState.CLOSED or target.closed_at is None:
        return Refused(Refusal.NOTHING_TO_RATE)
    if target.closed_at < tx.now - window:
        return Refused(Refusal.RATING_TOO_LATE)
    return None


async def do_comment(
    tx: Unit, target: RatingTarget, comment: str, window: timedelta
) -> Rated | Refused:
    """Keep the comment the customer adds after their score: once (the rating's comment
    is empty in the same WHERE), within the rating window."""
    refused = _unratable(tx, target, window)
    if refused is not None:
        return refused
    assert target.chat_id is not None
    score = (
        await tx.execute(
            update(Rating)
            .where(Rating.chat_id == target.chat_id, Rating.comment.is_(None))
            .values(comment=comment)
            .returning(Rating.score)
        )
    ).scalar_one_or_none()
    if score is None:
        rated = await tx.scalar(select(Rating.score).where(Rating.chat_id == target.chat_id))
        return Refused(Refusal.ALREADY_COMMENTED if rated else Refusal.NOTHING_TO_RATE)
    tx.note(target.chat_id, MessageKind.INCOMING, target.customer, comment)
    return Rated(await chat_view(tx.session, target.chat_id), score, comment)
