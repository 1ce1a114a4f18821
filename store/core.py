"""The store's core: sessions, the transaction every transition runs in, and views.

Every change is a conditional UPDATE whose row count decides the outcome, and the
activities it causes are written to the outbox in the same transaction
(``compose`` callbacks build them from the committed facts). Nothing here knows
the Bot Framework; references and activities are plain JSON.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import outbox, trace
from store.console_models import Rating
from store.handover import DeliveryHook, Handover, hand_over
from store.models import (
    Agent,
    Chat,
    ChatState,
    ChatTag,
    Customer,
    Department,
    InboundActivity,
    Message,
    MessageKind,
    OutboxItem,
    Participant,
    ParticipantRole,
    Setting,
    Supervisor,
    Tag,
    UTCDateTime,
)
from store.outbox import Outgoing

Clock = Callable[[], datetime]
T = TypeVar("T")

DEFAULT_DEPARTMENT = "default"
# An outgoing message to a customer whose payload names a chat under this key is also kept
# in that chat's transcript as the bridge's own words (the key is removed before sending).
TRANSCRIPT_CHAT = "transcript_chat"


def utc_now() -> datetime:
    return datetime.now(UTC)


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


@dataclass(frozen=True)
class IntakeLimits:
    """How many new chats may reach the room per ``window``: from one customer
    conversation, and from one channel (Web Chat, Teams...). Chats beyond them are kept
    and answered, and their cards posted later, spread over the following windows."""

    per_conversation: int = 3
    per_channel: int = 60
    window: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class Retention:
    """How long housekeeping keeps delivered and failed outbox rows and inbound keys."""

    delivered: timedelta = timedelta(hours=24)
    failed: timedelta = timedelta(days=30)
    inbound: timedelta = timedelta(hours=72)
    # Send budgets with no send for longer than their longest window (an hour).
    budgets: timedelta = timedelta(hours=2)


# Outcomes. Each transition answers with one of these; callers match on the type.
@dataclass(frozen=True)
class Duplicate:
    """The activity was handled before; nothing was changed."""


@dataclass(frozen=True)
class NoSuchChat:
    """The action names a chat that does not exist (a tampered or foreign card)."""


@dataclass(frozen=True)
class NotAllowed:
    chat: ChatView


@dataclass(frozen=True)
class TagRequired:
    """The chat cannot be closed yet: its department requires a tag and it has none."""

    chat: ChatView


ViewCompose = Callable[[ChatView], list[Outgoing]]

# Recording an inbound activity key, once per inbound activity: built once per dialect.
_SEEN = {
    name: insert(InboundActivity.__table__)
    .values(key=bindparam("p_key"), received_at=bindparam("p_at", type_=UTCDateTime()))
    .on_conflict_do_nothing()
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}


async def _rating(session: AsyncSession, chat: Chat) -> tuple[int, str | None] | None:
    """A closed chat's rating, for its summary card (every redraw shows it)."""
    row = (
        await session.execute(select(Rating.score, Rating.comment).where(Rating.chat_id == chat.id))
    ).one_or_none()
    return (row.score, row.comment) if row is not None else None


class StoreCore:
    """Sessions, one clock and the transaction that every named transition runs in."""

    # Routing knobs the app sets from its settings: the most chats an agent may own where
    # the department sets no limit (None: unlimited), and when a waiting chat is
    # announced again.
    default_capacity: int | None = None
    unanswered_after: timedelta = timedelta(seconds=120)
    intake_limits: IntakeLimits = IntakeLimits()

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock = utc_now,
        *,
        serialize_writes: bool = False,
    ) -> None:
        """``serialize_writes``: queue write transactions in the process (for SQLite).

        SQLite has one writer; connections that meet its lock sleep in its busy
        handler in growing steps, leaving the process idle while work waits. An
        asyncio lock hands the writer's turn over at once instead.
        """
        self._sessions = sessions
        self._writer: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if serialize_writes else nullcontext()
        )
        self.clock = clock
        self.delivery: DeliveryHook | None = None

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self._writer, self._sessions.begin() as session:
            yield session

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work; what it queued is leased in it and handed over after commit.

        Leasing the head of each lane it wrote to (on SQLite, claiming its send's budgets
        too) inside the same transaction saves the dispatcher a transaction or two per
        message; a lane whose head is someone else's is left to them (``store.handover``).
        """
        added: list[OutboxItem] = []
        handover: Handover | None = None
        async with self._write() as session:
            session.info["added"] = added
            yield session
            if added and self.delivery is not None:
                await session.flush()
                handover = await hand_over(session, added, self.delivery, self.clock())
        if handover is not None and self.delivery is not None:
            self.delivery.committed(handover)

    @staticmethod
    async def _settling_conflicts(attempt: Callable[[], Awaitable[T]], what: str) -> T:
        """Run a transaction again when it lost a unique-key race to another replica
        (both created the same customer or open chat): the retry sees the winner's row."""
        for _ in range(3):
            try:
                return await attempt()
            except IntegrityError:
                continue
        raise RuntimeError(f"{what} could not be stored after retries")

    def _enqueue(self, session: AsyncSession, items: list[Outgoing], now: datetime) -> None:
        for item in items:
            chat_id = item.payload.pop(TRANSCRIPT_CHAT, None)
            said = item.payload.get("activity", {}).get("text")
            if chat_id is not None and said:
                self._note(session, chat_id, MessageKind.BOT, "", said)
        session.info["added"].extend(outbox.add_outgoing(session, items, now))

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    async def _insert_ignore(session: AsyncSession, table: Any, values: dict[str, Any]) -> bool:
        """INSERT that does nothing on a unique conflict; True if a row was added."""
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        result = await session.execute(insert(table).values(**values).on_conflict_do_nothing())
        return result.rowcount == 1

    async def _first_time(self, session: AsyncSession, keys: Sequence[str]) -> bool:
        """Record the inbound activity keys; False if any of them was seen before."""
        now = self.clock()
        statement = _SEEN[session.bind.dialect.name]
        fresh = True
        for key in keys:
            result = await session.execute(statement, {"p_key": key[:700], "p_at": now})
            fresh &= result.rowcount == 1
        return fresh

    async def _agent(self, session: AsyncSession, person: Person) -> Agent:
        agent = await session.scalar(select(Agent).where(Agent.teams_id == person.teams_id))
        if agent is None:
            await self._insert_ignore(
                session,
                Agent,
                {
                    "teams_id": person.teams_id,
                    "aad_object_id": person.aad_object_id,
                    "name": person.name,
                    "created_at": self.clock(),
                },
            )
            agent = await session.scalar(select(Agent).where(Agent.teams_id == person.teams_id))
            assert agent is not None
        elif person.name and agent.name != person.name:
            agent.name = person.name
        return agent

    async def _seat(
        self, session: AsyncSession, chat_id: int, agent_id: int, role: ParticipantRole
    ) -> None:
        """Make an agent a current participant with ``role`` (again, if they had left)."""
        now = self.clock()
        seated = await self._insert_ignore(
            session,
            Participant,
            {"chat_id": chat_id, "agent_id": agent_id, "role": role, "joined_at": now},
        )
        if not seated:
            await session.execute(
                update(Participant)
                .where(Participant.chat_id == chat_id, Participant.agent_id == agent_id)
                .values(role=role, joined_at=now, left_at=None)
                .execution_options(synchronize_session=False)
            )

    async def _view(self, session: AsyncSession, chat_id: int) -> ChatView:
        trace.CHAT_ID.set(chat_id)  # the turn's log lines name the chat from here on
        chat = await session.get(Chat, chat_id, populate_existing=True)
        assert chat is not None
        customer = await session.get(Customer, chat.customer_id)
        # A chat whose customer has not picked a department yet has none.
        department = (
            await session.get(Department, chat.department_id) if chat.department_id else None
        )
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

    async def _hold(self, session: AsyncSession, chat: Chat, customer: Customer) -> bool:
        """Hold a chat opened beyond the intake limits: its card is posted by the timer,
        the n-th chat over a limit one window later for every ``limit`` before it, so a
        flood reaches the room at the limit's pace and nothing is dropped.

        The limits count the chats opened within the window from the customer's
        conversation (whoever claims to write in it) and from their channel.
        """
        limits = self.intake_limits
        now = self.clock()
        recent = (
            select(func.count(Chat.id))
            .join(Customer, Customer.id == Chat.customer_id)
            .where(Chat.created_at > now - limits.window, Chat.id != chat.id)
        )
        same_conversation = or_(
            Customer.id == customer.id,
            and_(
                Customer.conversation_key.is_not(None),
                Customer.conversation_key == customer.conversation_key,
            ),
        )
        own = await session.scalar(recent.where(same_conversation)) or 0
        channel = await session.scalar(recent.where(Customer.channel_id == customer.channel_id))
        waits = max(
            own // limits.per_conversation if limits.per_conversation > 0 else 0,
            (channel or 0) // limits.per_channel if limits.per_channel > 0 else 0,
        )
        if waits == 0:
            return False
        chat.held = True
        chat.announce_at = now + limits.window * waits
        return True

    def _note(
        self,
        session: AsyncSession,
        chat_id: int,
        kind: MessageKind,
        author: str,
        text: str,
        *,
        agent_id: int | None = None,
        source_key: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> None:
        session.add(
            Message(
                chat_id=chat_id,
                kind=kind,
                agent_id=agent_id,
                author=author,
                text=text,
                source_key=source_key,
                created_at=self.clock(),
                attachments=attachments or None,
            )
        )

    async def notify(self, dedupe_keys: Sequence[str], items: list[Outgoing]) -> bool:
        """Queue notices that change no chat, once per inbound activity."""
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return False
            self._enqueue(session, items, self.clock())
            return True

    async def secret(self, key: str) -> str:
        """A server secret kept in the database, made once, so links survive restarts."""
        async with self._write() as session:
            await self._insert_ignore(
                session, Setting, {"key": key, "value": secrets.token_urlsafe(32)}
            )
            value = await session.scalar(select(Setting.value).where(Setting.key == key))
            assert value is not None
            return value
