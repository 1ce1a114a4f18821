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
class CustomerTyping:
    """A customer typing in their conversation: shown in their chat's thread."""

    channel_id: str
    user_id: str


@dataclass(frozen=True)
class AgentTyping:
    """A participant typing in a chat's thread: shown to the customer."""

    thread_id: str
    person: Person


Typing = CustomerTyping | AgentTyping


@dataclass(frozen=True)
class Throttled:
    """A typing indicator that was not passed on (too soon after the last one, or no chat)."""


@dataclass(frozen=True)
class TypingPassed:
    """Pass the indicator on in the chat; to the customer at ``customer_reference``
    when it was an agent's."""

    chat_id: int
    customer_reference: dict[str, Any] | None = None


def _chat(typing: Typing) -> tuple[Select[Any], str]:
    """Which chat the typing is shown in (the query's row starts with its id), and which
    way it goes: a customer's open chat that has a department (and so a room to show it
    in); the thread's active chat, if the agent is one of its current participants."""
    if isinstance(typing, CustomerTyping):
        customer = (
            select(Chat.id)
            .join(Customer, Customer.id == Chat.customer_id)
            .where(
                Customer.channel_id == typing.channel_id,
                Customer.user_id == typing.user_id,
                Chat.state != ChatState.CLOSED,
                Chat.department_id.is_not(None),
            )
        )
        return customer, TO_THREAD
    agents = select(Agent.id).where(Agent.teams_id == typing.person.teams_id)
    agent = (
        select(Chat.id, Customer.reference)
        .join(Customer, Customer.id == Chat.customer_id)
        .join(Participant, Participant.chat_id == Chat.id)
        .where(
            Chat.thread_id == typing.thread_id,
            Chat.state == ChatState.ACTIVE,
            Participant.left_at.is_(None),
            Participant.agent_id.in_(agents),
        )
    )
    return agent, TO_CUSTOMER


async def check_typing(tx: Unit, typing: Typing, interval: float) -> bool:
    """Whether the typing may be due: its chat exists and passed no indicator on that way
    within the interval (a read only; ``do_typing`` settles races)."""
    chat, direction = _chat(typing)
    recent = chat.add_columns(TypingMark.sent_at).outerjoin(
        TypingMark, (TypingMark.chat_id == Chat.id) & (TypingMark.direction == direction)
    )
    seen = (await tx.session.execute(recent)).first()
    return seen is not None and (
        seen.sent_at is None or seen.sent_at <= tx.now - timedelta(seconds=interval)
    )


async def do_typing(tx: Unit, typing: Typing, interval: float) -> TypingPassed | Throttled:
    """Claim the right to pass the indicator on: one upsert, the last time in its WHERE."""
    chat, direction = _chat(typing)
    row = (await tx.session.execute(chat)).first()
    if row is None:
        return Throttled()
    insert = insert_ignoring(tx.dialect)
    statement = (
        insert(TypingMark)
        .values(chat_id=row.id, direction=direction, sent_at=tx.now)
        .on_conflict_do_update(
            index_elements=["chat_id", "direction"],
            set_={"sent_at": tx.now},
            where=TypingMark.sent_at <= tx.now - timedelta(seconds=interval),
        )
    )
    if (await tx.session.execute(statement)).rowcount != 1:
        return Throttled()
    reference = row.reference if isinstance(typing, AgentTyping) else None
    return TypingPassed(row.id, reference)
