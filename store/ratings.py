"""Customers' satisfaction ratings: one per closed chat, settled by the database.

A rating names its chat by the public reference the rating card carried, or (typed as
one of the choices, on channels without cards) means the customer's last chat, when
it is closed within the rating window and nothing newer is open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import exists, select

from store.console_models import Rating
from store.core import ChatView, Duplicate, StoreCore
from store.models import Chat, ChatState, Customer, MessageKind
from store.outbox import Outgoing


@dataclass(frozen=True)
class RatingTurn:
    """A customer's answer to the rating question, as the intake read it."""

    channel_id: str
    user_id: str
    ref: str | None  # from the card; None when typed
    score: int
    comment: str | None


@dataclass(frozen=True)
class Rated:
    chat: ChatView
    score: int
    comment: str | None


@dataclass(frozen=True)
class RatingRefused:
    """``already`` (rated before), ``late`` (after the window), ``unknown`` (no such chat
    of this customer, or not closed): each answered politely, nothing changes."""

    reason: str


@dataclass(frozen=True)
class NoPendingRating:
    """A typed choice with no chat waiting for a rating: it is an ordinary message."""


RatingOutcome = Rated | RatingRefused | NoPendingRating | Duplicate
RatingCompose = Callable[[Rated | RatingRefused], list[Outgoing]]


class Ratings(StoreCore):
    async def rate_chat(
        self,
        turn: RatingTurn,
        window: timedelta,
        dedupe_keys: Sequence[str],
        compose: RatingCompose,
    ) -> RatingOutcome:
        async with self._transaction() as session:
            now = self.clock()
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
                still_open = exists().where(
                    Chat.customer_id == customer.id, Chat.state != ChatState.CLOSED
                )
                # Rated or not: a typed repeat is thanked like a pressed one.
                chat = await session.scalar(
                    select(Chat)
                    .where(
                        Chat.customer_id == customer.id,
                        Chat.state == ChatState.CLOSED,
                        Chat.closed_at >= now - window,
                        ~still_open,
                    )
                    .order_by(Chat.closed_at.desc(), Chat.id.desc())
                    .limit(1)
                )
            if chat is None and turn.ref is None:
                # Nothing written: the intake handles it as a message, with the same keys.
                return NoPendingRating()
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            outcome: Rated | RatingRefused
            if chat is None or chat.state != ChatState.CLOSED or chat.closed_at is None:
                outcome = RatingRefused("unknown")
            elif chat.closed_at < now - window:
                outcome = RatingRefused("late")
            elif not await self._insert_ignore(
                session,
                Rating,
                {
                    "chat_id": chat.id,
                    "score": turn.score,
                    "comment": turn.comment,
                    "created_at": now,
                },
            ):
                outcome = RatingRefused("already")
            else:
                assert customer is not None
                self._note(
                    session, chat.id, MessageKind.ACTIVITY, customer.name, f"rated_{turn.score}"
                )
                if turn.comment:
                    self._note(session, chat.id, MessageKind.INCOMING, customer.name, turn.comment)
                outcome = Rated(await self._view(session, chat.id), turn.score, turn.comment)
            self._enqueue(session, compose(outcome), now)
            return outcome

    async def rating_of(self, chat_id: int) -> tuple[int, str | None] | None:
        """A chat's rating and comment (the transcript in the console shows it)."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Rating.score, Rating.comment).where(Rating.chat_id == chat_id)
                )
            ).one_or_none()
        return (row.score, row.comment) if row is not None else None
