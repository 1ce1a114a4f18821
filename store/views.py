"""The chat as cards and notices see it: one read of everything they show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store import trace
from store.console_models import Rating
from store.models import (
    Agent,
    Chat,
    ChatState,
    ChatTag,
    Customer,
    Department,
    Message,
    MessageKind,
    Participant,
    ParticipantRole,
    Supervisor,
    Tag,
)


@dataclass(frozen=True)
class Person:
    """A Teams user as an activity names them."""

    teams_id: str
    name: str
    aad_object_id: str | None = None


@dataclass(frozen=True)
class Member:
    """A current participant of a chat and their role in it."""

    person: Person
    role: ParticipantRole


@dataclass(frozen=True)
class ChatView:
    """What cards and notices need to know about a chat, read inside the transaction."""

    id: int
    ref: str  # the chat's public reference: what cards and links carry
    state: ChatState
    version: int
    department: str
    customer_name: str
    customer_channel: str
    customer_locale: str
    customer_reference: dict[str, Any]
    owner_name: str | None
    owner_teams_id: str | None
    closed_by_teams_id: str | None
    thread_id: str | None
    room_reference: dict[str, Any] | None
    created_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    message_count: int
    first_messages: tuple[str, ...]
    participants: tuple[Member, ...] = ()
    tags: tuple[str, ...] = ()
    department_tags: tuple[str, ...] = ()
    # The customer's closed chats before this one (id, public reference), newest first.
    earlier_chats: tuple[tuple[int, str], ...] = ()
    earlier_owner: str | None = None  # who had the newest of them
    customer_contact: str | None = None  # e-mail or phone from the website's pre-chat form
    # Beyond the new-chat limits: its card is posted later (True on the release too).
    held: bool = False
    # The customer's rating of a closed chat (score 1-5, comment), once given.
    rating: tuple[int, str | None] | None = None
    # Teams ids of the department's supervisors: they get a card view of their own.
    supervisors: tuple[str, ...] = ()
    time_zone: str | None = None  # the department's own, if it has one


async def _rating(session: AsyncSession, chat: Chat) -> tuple[int, str | None] | None:
    """A closed chat's rating, for its summary card (every redraw shows it)."""
    row = (
        await session.execute(select(Rating.score, Rating.comment).where(Rating.chat_id == chat.id))
    ).one_or_none()
    return (row.score, row.comment) if row is not None else None


async def chat_view(session: AsyncSession, chat_id: int) -> ChatView:
    """Everything cards and notices show about a chat, read inside the transaction."""
    trace.CHAT_ID.set(chat_id)  # the turn's log lines name the chat from here on
    chat = await session.get(Chat, chat_id, populate_existing=True)
    assert chat is not None
    customer = await session.get(Customer, chat.customer_id)
    # A chat whose customer has not picked a department yet has none.
    department = await session.get(Department, chat.department_id) if chat.department_id else None
    owner = await session.get(Agent, chat.owner_id) if chat.owner_id else None
    closer = await session.get(Agent, chat.closed_by_id) if chat.closed_by_id else None
    count = await session.scalar(
        select(func.count(Message.id)).where(
            Message.chat_id == chat_id,
            Message.kind.in_([MessageKind.INCOMING, MessageKind.OUTGOING]),
        )
    )
    first = await session.scalars(
        select(Message.text)
        .where(Message.chat_id == chat_id, Message.kind == MessageKind.INCOMING)
        .order_by(Message.id)
        .limit(3)
    )
    members = await session.execute(
        select(Agent.teams_id, Agent.name, Agent.aad_object_id, Participant.role)
        .join(Agent, Agent.id == Participant.agent_id)
        .where(Participant.chat_id == chat_id, Participant.left_at.is_(None))
        .order_by(Participant.id)
    )
    tags = await session.scalars(
        select(Tag.name)
        .join(ChatTag, ChatTag.tag_id == Tag.id)
        .where(ChatTag.chat_id == chat_id)
        .order_by(Tag.name)
    )
    department_tags = await session.scalars(
        select(Tag.name).where(Tag.department_id == chat.department_id).order_by(Tag.name)
    )
    supervisors = await session.scalars(
        select(Agent.teams_id)
        .join(Supervisor, Supervisor.agent_id == Agent.id)
        .where(Supervisor.department_id == chat.department_id)
        .order_by(Supervisor.id)
    )
    assert customer is not None
    earlier = (
        await session.execute(
            select(Chat.id, Chat.public_id, Agent.name)
            .outerjoin(Agent, Agent.id == Chat.owner_id)
            .where(
                Chat.customer_id == chat.customer_id,
                Chat.state == ChatState.CLOSED,
                Chat.id < chat_id,
            )
            .order_by(Chat.id.desc())
        )
    ).all()
    return ChatView(
        id=chat.id,
        ref=chat.public_id,
        state=chat.state,
        version=chat.version,
        department=department.name if department else "",
        customer_name=customer.name,
        customer_channel=customer.channel_id,
        customer_locale=customer.locale,
        customer_reference=customer.reference,
        owner_name=owner.name if owner else None,
        owner_teams_id=owner.teams_id if owner else None,
        closed_by_teams_id=closer.teams_id if closer else None,
        thread_id=chat.thread_id,
        room_reference=department.room_reference if department else None,
        created_at=chat.created_at,
        accepted_at=chat.accepted_at,
        closed_at=chat.closed_at,
        message_count=count or 0,
        first_messages=tuple(first),
        participants=tuple(
            Member(Person(teams_id, name, aad), role) for teams_id, name, aad, role in members
        ),
        tags=tuple(tags),
        department_tags=tuple(department_tags),
        earlier_chats=tuple((row.id, row.public_id) for row in earlier),
        earlier_owner=earlier[0].name if earlier else None,
        held=chat.held,
        customer_contact=customer.contact,
        rating=await _rating(session, chat) if chat.state == ChatState.CLOSED else None,
        supervisors=tuple(supervisors),
        time_zone=department.time_zone if department else None,
    )
