"""State transitions of chats, each one transaction.

Every change is a conditional UPDATE whose row count decides the outcome, and the
activities it causes are written to the outbox in the same transaction
(``compose`` callbacks build them from the committed facts). Nothing here knows
the Bot Framework; references and activities are plain JSON.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import outbox
from store.models import (
    Agent,
    Chat,
    ChatState,
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
    UTCDateTime,
)
from store.outbox import Outgoing

Clock = Callable[[], datetime]

DEFAULT_DEPARTMENT = "default"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Person:
    """A Teams user as an activity names them."""

    teams_id: str
    name: str
    aad_object_id: str | None = None


@dataclass(frozen=True)
class FloodLimit:
    """More than ``messages`` within ``window`` seconds is too fast for one chat."""

    messages: int
    window: float


@dataclass(frozen=True)
class CustomerTurn:
    channel_id: str
    user_id: str
    name: str
    locale: str
    reference: dict[str, Any]
    text: str
    source_key: str | None


@dataclass(frozen=True)
class ChatView:
    """What cards and notices need to know about a chat, read inside the transaction."""

    id: int
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


@dataclass(frozen=True)
class TranscriptLine:
    kind: MessageKind
    author: str
    text: str
    at: datetime


@dataclass(frozen=True)
class Transcript:
    chat: ChatView
    participants: tuple[tuple[str, ParticipantRole], ...]
    lines: tuple[TranscriptLine, ...]


# Outcomes. Each transition answers with one of these; callers match on the type.
@dataclass(frozen=True)
class Duplicate:
    """The activity was handled before; nothing was changed."""


@dataclass(frozen=True)
class Opened:
    chat: ChatView


@dataclass(frozen=True)
class Appended:
    chat_id: int


@dataclass(frozen=True)
class Accepted:
    chat: ChatView


@dataclass(frozen=True)
class AlreadyTaken:
    chat: ChatView


@dataclass(frozen=True)
class NoSuchChat:
    """The action names a chat that does not exist (a tampered or foreign card)."""


@dataclass(frozen=True)
class NotAllowed:
    chat: ChatView


@dataclass(frozen=True)
class Relayed:
    chat_id: int


@dataclass(frozen=True)
class Closed:
    chat: ChatView


@dataclass(frozen=True)
class AlreadyClosed:
    chat: ChatView


@dataclass(frozen=True)
class RoomReady:
    department: str
    created: bool


ViewCompose = Callable[[ChatView], list[Outgoing]]

# Recording an inbound activity key, once per inbound activity: built once per dialect.
_SEEN = {
    name: insert(InboundActivity.__table__)
    .values(key=bindparam("p_key"), received_at=bindparam("p_at", type_=UTCDateTime()))
    .on_conflict_do_nothing()
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}

# A customer, their open chat (if any) and how many messages it got within the flood
# window, in one statement built once: this runs for every customer message.
_RECENT = (
    select(func.count(Message.id))
    .where(
        Message.chat_id == Chat.id,
        Message.kind == MessageKind.INCOMING,
        Message.created_at > bindparam("p_since", type_=UTCDateTime()),
    )
    .correlate(Chat)
    .scalar_subquery()
)
_CUSTOMER_AND_OPEN_CHAT = (
    select(Customer, Chat, func.coalesce(_RECENT, 0))
    .outerjoin(Chat, and_(Chat.customer_id == Customer.id, Chat.state != ChatState.CLOSED))
    .where(
        Customer.channel_id == bindparam("p_channel"),
        Customer.user_id == bindparam("p_user"),
    )
)


class DeliveryHook(Protocol):
    """The dispatcher as the store sees it: who leases, for how long, and the hand-over."""

    owner: str
    lease: timedelta

    def committed(self, leased: list[OutboxItem], unleased: set[str]) -> None: ...


def _opened_view(
    chat: Chat, customer: Customer, department: Department | None, text: str
) -> ChatView:
    """The view of a chat just opened, from what the transaction has in hand (no queries)."""
    return ChatView(
        id=chat.id,
        state=chat.state,
        version=chat.version,
        department=department.name if department else "",
        customer_name=customer.name,
        customer_channel=customer.channel_id,
        customer_locale=customer.locale,
        customer_reference=customer.reference,
        owner_name=None,
        owner_teams_id=None,
        closed_by_teams_id=None,
        thread_id=None,
        room_reference=department.room_reference if department else None,
        created_at=chat.created_at,
        accepted_at=None,
        closed_at=None,
        message_count=1,
        first_messages=(text,),
    )


class Store:
    """The named transitions of the bridge over one session factory and one clock."""

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

        Leasing the head of each lane it wrote to inside the same transaction saves
        the dispatcher a transaction per message; a lane whose head is someone
        else's is left to them, as ``lease_head`` decides.
        """
        added: list[OutboxItem] = []
        leased: list[OutboxItem] = []
        async with self._write() as session:
            session.info["added"] = added
            yield session
            if added and self.delivery is not None:
                await session.flush()
                now = self.clock()
                for lane in sorted({row.lane for row in added}):
                    item = await outbox.lease_head(
                        session, lane, self.delivery.owner, now, self.delivery.lease
                    )
                    if item is not None:
                        leased.append(item)
        if added and self.delivery is not None:
            taken = {item.id for item in leased}
            self.delivery.committed(leased, {row.lane for row in added if row.id not in taken})

    def _enqueue(self, session: AsyncSession, items: list[Outgoing], now: datetime) -> None:
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

    async def _view(self, session: AsyncSession, chat_id: int) -> ChatView:
        chat = await session.get(Chat, chat_id, populate_existing=True)
        assert chat is not None
        customer = await session.get(Customer, chat.customer_id)
        department = await session.get(Department, chat.department_id)
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
        assert customer is not None and department is not None
        return ChatView(
            id=chat.id,
            state=chat.state,
            version=chat.version,
            department=department.name,
            customer_name=customer.name,
            customer_channel=customer.channel_id,
            customer_locale=customer.locale,
            customer_reference=customer.reference,
            owner_name=owner.name if owner else None,
            owner_teams_id=owner.teams_id if owner else None,
            closed_by_teams_id=closer.teams_id if closer else None,
            thread_id=chat.thread_id,
            room_reference=department.room_reference,
            created_at=chat.created_at,
            accepted_at=chat.accepted_at,
            closed_at=chat.closed_at,
            message_count=count or 0,
            first_messages=tuple(first),
        )

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
            )
        )

    # -- rooms -----------------------------------------------------------------------------

    async def setup_room(
        self,
        person: Person,
        *,
        key: str,
        name: str,
        team_id: str | None,
        channel_id: str,
        room_reference: dict[str, Any],
        dedupe_keys: Sequence[str],
        compose: Callable[[RoomReady, list[ChatView]], list[Outgoing]],
    ) -> RoomReady | Duplicate:
        """Bind a channel as a department's room and make ``person`` its supervisor.

        Chats that arrived while no room existed are posted to the new room.
        """
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            created = await self._insert_ignore(
                session,
                Department,
                {
                    "key": key,
                    "name": name,
                    "team_id": team_id,
                    "channel_id": channel_id,
                    "room_reference": room_reference,
                    "created_at": now,
                },
            )
            department = await session.scalar(select(Department).where(Department.key == key))
            assert department is not None
            department.channel_id = channel_id
            department.team_id = team_id
            department.room_reference = room_reference
            agent = await self._agent(session, person)
            await self._insert_ignore(
                session,
                Supervisor,
                {"department_id": department.id, "agent_id": agent.id, "created_at": now},
            )
            unrouted = list(
                await session.scalars(
                    select(Chat.id).where(
                        Chat.department_id.is_(None), Chat.state != ChatState.CLOSED
                    )
                )
            )
            if unrouted:
                await session.execute(
                    update(Chat)
                    .where(Chat.id.in_(unrouted))
                    .values(department_id=department.id)
                    .execution_options(synchronize_session=False)
                )
            waiting_views = [await self._view(session, chat_id) for chat_id in unrouted]
            outcome = RoomReady(department=name, created=created)
            self._enqueue(session, compose(outcome, waiting_views), now)
            return outcome

    async def notify(self, dedupe_keys: Sequence[str], items: list[Outgoing]) -> bool:
        """Queue notices that change no chat, once per inbound activity."""
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return False
            self._enqueue(session, items, self.clock())
            return True

    # -- customers -------------------------------------------------------------------------

    async def customer_message(
        self,
        turn: CustomerTurn,
        dedupe_keys: Sequence[str],
        *,
        on_open: ViewCompose,
        on_append: Callable[[int, bool], list[Outgoing]],
        flood: FloodLimit,
        on_flood: Callable[[], list[Outgoing]],
    ) -> Duplicate | Opened | Appended:
        """Store a customer's message; open a chat if they have none open.

        A customer writing faster than ``flood`` allows is told so once per window;
        their messages are still stored and passed on.
        """
        for _ in range(3):
            try:
                return await self._customer_message(
                    turn, dedupe_keys, on_open, on_append, flood, on_flood
                )
            except IntegrityError:
                # Another replica opened the chat or created the customer at the same time:
                # the retry sees its row.
                continue
        raise RuntimeError("customer message could not be stored after retries")

    async def _customer_message(
        self,
        turn: CustomerTurn,
        dedupe_keys: Sequence[str],
        on_open: ViewCompose,
        on_append: Callable[[int, bool], list[Outgoing]],
        flood: FloodLimit,
        on_flood: Callable[[], list[Outgoing]],
    ) -> Duplicate | Opened | Appended:
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            found = (
                await session.execute(
                    _CUSTOMER_AND_OPEN_CHAT,
                    {
                        "p_channel": turn.channel_id,
                        "p_user": turn.user_id,
                        "p_since": now - timedelta(seconds=flood.window),
                    },
                )
            ).one_or_none()
            customer, chat, recent = found if found else (None, None, 0)
            if customer is None:
                customer = Customer(
                    channel_id=turn.channel_id,
                    user_id=turn.user_id,
                    name=turn.name,
                    locale=turn.locale,
                    reference=turn.reference,
                    created_at=now,
                )
                session.add(customer)
                await session.flush()
            else:
                if customer.reference != turn.reference:
                    customer.reference = turn.reference
                if turn.name and customer.name != turn.name:
                    customer.name = turn.name
                if customer.locale != turn.locale:
                    customer.locale = turn.locale
            opened = chat is None
            department = None
            if chat is None:
                department = await session.scalar(select(Department).order_by(Department.id))
                chat = Chat(
                    customer_id=customer.id,
                    department_id=department.id if department else None,
                    state=ChatState.WAITING,
                    version=1,
                    created_at=now,
                )
                session.add(chat)
                await session.flush()
            self._note(
                session,
                chat.id,
                MessageKind.INCOMING,
                customer.name,
                turn.text,
                source_key=turn.source_key,
            )
            if opened:
                await session.flush()
                view = _opened_view(chat, customer, department, turn.text)
                self._enqueue(session, on_open(view), now)
                return Opened(view)
            self._enqueue(session, on_append(chat.id, chat.department_id is not None), now)
            slowed = chat.slowed_until is not None and chat.slowed_until > now
            if recent + 1 > flood.messages and not slowed:
                chat.slowed_until = now + timedelta(seconds=flood.window)
                self._enqueue(session, on_flood(), now)
            return Appended(chat.id)

    # -- agents ----------------------------------------------------------------------------

    async def accept_chat(
        self,
        chat_id: int,
        person: Person,
        *,
        on_accepted: ViewCompose,
        on_taken: ViewCompose,
    ) -> Accepted | AlreadyTaken | NoSuchChat:
        """The Accept race: one conditional UPDATE from waiting to active decides the winner."""
        async with self._transaction() as session:
            now = self.clock()
            agent = await self._agent(session, person)
            result = await session.execute(
                update(Chat)
                .where(Chat.id == chat_id, Chat.state == ChatState.WAITING)
                .values(
                    state=ChatState.ACTIVE,
                    owner_id=agent.id,
                    accepted_at=now,
                    version=Chat.version + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                if await session.get(Chat, chat_id) is None:
                    return NoSuchChat()
                view = await self._view(session, chat_id)
                self._enqueue(session, on_taken(view), now)
                return AlreadyTaken(view)
            session.add(
                Participant(
                    chat_id=chat_id, agent_id=agent.id, role=ParticipantRole.OWNER, joined_at=now
                )
            )
            self._note(
                session,
                chat_id,
                MessageKind.ACTIVITY,
                agent.name,
                "chat.accepted",
                agent_id=agent.id,
            )
            await session.flush()
            view = await self._view(session, chat_id)
            self._enqueue(session, on_accepted(view), now)
            return Accepted(view)

    async def chat_for_thread(self, thread_id: str) -> int | None:
        async with self._sessions() as session:
            return await session.scalar(select(Chat.id).where(Chat.thread_id == thread_id))

    async def agent_message(
        self,
        thread_id: str,
        person: Person,
        text: str,
        source_key: str,
        dedupe_keys: Sequence[str],
        *,
        on_relay: Callable[[int, dict[str, Any]], list[Outgoing]],
        on_refused: ViewCompose,
    ) -> Duplicate | Relayed | NotAllowed | NoSuchChat:
        """Relay a thread reply to the customer if its writer takes part in an open chat."""
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            chat = await session.scalar(select(Chat).where(Chat.thread_id == thread_id))
            if chat is None:
                return NoSuchChat()
            agent = await self._agent(session, person)
            participant = await session.scalar(
                select(Participant.id).where(
                    Participant.chat_id == chat.id,
                    Participant.agent_id == agent.id,
                    Participant.left_at.is_(None),
                )
            )
            if participant is None or chat.state != ChatState.ACTIVE:
                view = await self._view(session, chat.id)
                self._enqueue(session, on_refused(view), now)
                return NotAllowed(view)
            self._note(
                session,
                chat.id,
                MessageKind.OUTGOING,
                agent.name,
                text,
                agent_id=agent.id,
                source_key=source_key,
            )
            if chat.first_reply_at is None:
                chat.first_reply_at = now
            customer = await session.get(Customer, chat.customer_id)
            assert customer is not None
            self._enqueue(session, on_relay(chat.id, customer.reference), now)
            return Relayed(chat.id)

    async def close_chat(
        self,
        chat_id: int,
        person: Person,
        *,
        on_closed: ViewCompose,
        on_refused: ViewCompose,
        on_already: ViewCompose,
    ) -> Closed | NotAllowed | AlreadyClosed | NoSuchChat:
        """Close a chat; only its owner or a supervisor of its department may."""
        async with self._transaction() as session:
            now = self.clock()
            chat = await session.get(Chat, chat_id)
            if chat is None:
                return NoSuchChat()
            agent = await self._agent(session, person)
            supervises = exists().where(
                Supervisor.agent_id == agent.id, Supervisor.department_id == Chat.department_id
            )
            result = await session.execute(
                update(Chat)
                .where(
                    Chat.id == chat_id,
                    Chat.state != ChatState.CLOSED,
                    or_(Chat.owner_id == agent.id, supervises),
                )
                .values(
                    state=ChatState.CLOSED,
                    closed_at=now,
                    closed_by_id=agent.id,
                    version=Chat.version + 1,
                )
                .execution_options(synchronize_session=False)
            )
            view = await self._view(session, chat_id)
            if result.rowcount != 1:
                compose = on_already if view.state == ChatState.CLOSED else on_refused
                self._enqueue(session, compose(view), now)
                outcome = AlreadyClosed if view.state == ChatState.CLOSED else NotAllowed
                return outcome(view)
            await session.execute(
                update(Participant)
                .where(and_(Participant.chat_id == chat_id, Participant.left_at.is_(None)))
                .values(left_at=now)
                .execution_options(synchronize_session=False)
            )
            self._note(
                session, chat_id, MessageKind.ACTIVITY, agent.name, "chat.closed", agent_id=agent.id
            )
            self._enqueue(session, on_closed(view), now)
            return Closed(view)

    # -- delivery ----------------------------------------------------------------------------

    async def due_lanes(self, limit: int = 200) -> list[str]:
        async with self._sessions() as session:
            return await outbox.due_lanes(session, self.clock(), limit)

    async def purge_delivered(self, keep: timedelta) -> int:
        async with self._write() as session:
            return await outbox.purge_delivered(session, self.clock() - keep)

    async def lease_next(self, lane: str, owner: str, lease: timedelta) -> Any:
        async with self._write() as session:
            return await outbox.lease_head(session, lane, owner, self.clock(), lease)

    async def delivered(
        self, items: list[tuple[int, tuple[int, str, str] | None]], owner: str
    ) -> set[int]:
        """Mark items delivered in one transaction; returns those whose lease was ours.

        An item that created a chat's thread also records where the card went.
        """
        async with self._write() as session:
            done = await outbox.finish(
                session, [item_id for item_id, _ in items], owner, self.clock(), delivered=True
            )
            for item_id, thread in items:
                if item_id in done and thread is not None:
                    chat_id, thread_id, card_activity_id = thread
                    await session.execute(
                        update(Chat)
                        .where(Chat.id == chat_id)
                        .values(thread_id=thread_id, card_activity_id=card_activity_id)
                        .execution_options(synchronize_session=False)
                    )
            return done

    async def undeliverable(self, item_id: int, owner: str, error: str) -> None:
        async with self._write() as session:
            await outbox.finish(
                session, [item_id], owner, self.clock(), delivered=False, error=error
            )

    async def retry_later(self, item_id: int, owner: str, delay: float, error: str) -> None:
        async with self._write() as session:
            until = self.clock() + timedelta(seconds=delay)
            await outbox.postpone(session, item_id, owner, until, error)

    async def chat_reference(self, chat_id: int) -> tuple[dict[str, Any], str | None] | None:
        """The thread of a chat as a reference, and its card's activity id, once posted."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Chat.thread_id, Chat.card_activity_id, Department.room_reference)
                    .join(Department, Department.id == Chat.department_id)
                    .where(Chat.id == chat_id)
                )
            ).one_or_none()
        if row is None or row.thread_id is None:
            return None
        room = row.room_reference
        reference = {**room, "conversation": {**room["conversation"], "id": row.thread_id}}
        return reference, row.card_activity_id

    # -- transcripts -----------------------------------------------------------------------

    async def transcript(self, chat_id: int) -> Transcript | None:
        async with self._sessions() as session:
            if await session.get(Chat, chat_id) is None:
                return None
            view = await self._view(session, chat_id)
            people = await session.execute(
                select(Agent.name, Participant.role)
                .join(Agent, Agent.id == Participant.agent_id)
                .where(Participant.chat_id == chat_id)
                .order_by(Participant.id)
            )
            lines = await session.scalars(
                select(Message).where(Message.chat_id == chat_id).order_by(Message.id)
            )
            return Transcript(
                chat=view,
                participants=tuple((name, role) for name, role in people),
                lines=tuple(
                    TranscriptLine(kind=m.kind, author=m.author, text=m.text, at=m.created_at)
                    for m in lines
                ),
            )

    async def secret(self, key: str) -> str:
        """A server secret kept in the database, made once, so links survive restarts."""
        async with self._write() as session:
            await self._insert_ignore(
                session, Setting, {"key": key, "value": secrets.token_urlsafe(32)}
            )
            value = await session.scalar(select(Setting.value).where(Setting.key == key))
            assert value is not None
            return value
