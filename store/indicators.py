"""Typing indicators, throttled in the database: at most one per chat and direction per
interval, whichever replica sees the typing.

Typing arrives several times a second while someone writes, so ``check_*`` (a read,
outside the writers' queue) turns most of it away; ``do_*`` then claims the interval
with one upsert whose WHERE compares the last time, so concurrent replicas cannot
both pass the same indicator on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select

from store.models import Agent, Chat, ChatState, Customer, Participant, TypingMark
from store.unit import Unit, insert_ignoring
from store.views import Person

TO_THREAD = "to_thread"
TO_CUSTOMER = "to_customer"


@dataclass(frozen=True)
class Throttled:
    """A typing indicator that was not passed on (too soon after the last one, or no chat)."""


@dataclass(frozen=True)
class TypingPassed:
    """Pass the indicator on in the chat; to the customer at ``customer_reference``
    when it was an agent's."""

    chat_id: int
    customer_reference: dict[str, Any] | None = None


def _customer_chat(channel_id: str, user_id: str) -> Select[Any]:
    """The customer's open chat that has a department (and so a room to show it in)."""
    return (
        select(Chat.id)
        .join(Customer, Customer.id == Chat.customer_id)
        .where(
            Customer.channel_id == channel_id,
            Customer.user_id == user_id,
            Chat.state != ChatState.CLOSED,
            Chat.department_id.is_not(None),
        )
    )


def _agent_chat(thread_id: str, person: Person) -> Select[Any]:
    """The active chat of the thread, if ``person`` is one of its current participants."""
    return (
        select(Chat.id, Customer.reference)
        .join(Customer, Customer.id == Chat.customer_id)
        .join(Participant, Participant.chat_id == Chat.id)
        .where(
            Chat.thread_id == thread_id,
            Chat.state == ChatState.ACTIVE,
            Participant.left_at.is_(None),
            Participant.agent_id.in_(select(Agent.id).where(Agent.teams_id == person.teams_id)),
        )
    )


async def _due(tx: Unit, chat: Select[Any], direction: str, interval: float) -> bool:
    """Whether the chat ``chat`` finds exists and passed no indicator on within the interval."""
    recent = chat.add_columns(TypingMark.sent_at).outerjoin(
        TypingMark, (TypingMark.chat_id == Chat.id) & (TypingMark.direction == direction)
    )
    seen = (await tx.session.execute(recent)).first()
    return seen is not None and (
        seen.sent_at is None or seen.sent_at <= tx.now - timedelta(seconds=interval)
    )


async def _claim(tx: Unit, chat_id: int, direction: str, interval: float) -> bool:
    """Claim the right to pass an indicator on: one upsert, the last time in its WHERE."""
    insert = insert_ignoring(tx.session)
    statement = (
        insert(TypingMark)
        .values(chat_id=chat_id, direction=direction, sent_at=tx.now)
        .on_conflict_do_update(
            index_elements=["chat_id", "direction"],
            set_={"sent_at": tx.now},
            where=TypingMark.sent_at <= tx.now - timedelta(seconds=interval),
        )
    )
    return (await tx.session.execute(statement)).rowcount == 1


async def check_customer_typing(tx: Unit, channel_id: str, user_id: str, interval: float) -> bool:
    """Whether a customer's typing may be due in their chat's thread (a read only)."""
    return await _due(tx, _customer_chat(channel_id, user_id), TO_THREAD, interval)


async def do_customer_typing(
    tx: Unit, channel_id: str, user_id: str, interval: float
) -> TypingPassed | Throttled:
    """Show a customer's typing in their chat's thread, if it has one and it is time."""
    row = (await tx.session.execute(_customer_chat(channel_id, user_id))).first()
    if row is None or not await _claim(tx, row.id, TO_THREAD, interval):
        return Throttled()
    return TypingPassed(row.id)


async def check_agent_typing(tx: Unit, thread_id: str, person: Person, interval: float) -> bool:
    """Whether a participant's typing may be due to the customer (a read only)."""
    return await _due(tx, _agent_chat(thread_id, person), TO_CUSTOMER, interval)


async def do_agent_typing(
    tx: Unit, thread_id: str, person: Person, interval: float
) -> TypingPassed | Throttled:
    """Show a participant's typing to the customer of an active chat, if it is time."""
    row = (await tx.session.execute(_agent_chat(thread_id, person))).first()
    if row is None or not await _claim(tx, row.id, TO_CUSTOMER, interval):
        return Throttled()
    return TypingPassed(row.id, row.reference)
