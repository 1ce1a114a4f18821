"""The unit of work: one transaction, its clock reading, and what it queues to send.

Every change runs as ``async with store.unit() as tx``: the ``do_*`` functions of the
store's aggregates take ``tx`` first and return a typed outcome; the dialog turns the
outcome into activities (``notify_*``) and queues them with ``tx.enqueue`` before the
block ends, so the change and its activities commit together. The store never calls up
into dialogs or cards.

A unit is a connection in a transaction. The hot paths (a customer's line, the
dispatcher's leases and marks) run prebuilt Core statements on it (``tx.execute``)
and never build an ORM session; the other aggregates use ``tx.session``, made on first
use on the same connection and transaction. Transcript lines (``tx.note``) and outgoing
rows (``tx.enqueue``) are written together, in one INSERT each, before the next
statement of the unit, whichever way it runs, and before it commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Result, bindparam, event, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from store.models import (
    Agent,
    DeliveryState,
    InboundActivity,
    Message,
    MessageKind,
    OutboxItem,
    UTCDateTime,
)
from store.outbox import Outgoing, outbox_items
from store.vocabulary import ChatEvent

# An outgoing message to a customer whose payload names a chat under this key is also kept
# in that chat's transcript as the bridge's own words (the key is removed before sending).
TRANSCRIPT_CHAT = "transcript_chat"  # ``Send.transcript_chat``

# Longest inbound key kept (the column's width).
_KEY_LIMIT = 700

_MESSAGES = insert(Message.__table__)
_OUTBOX = OutboxItem.__table__
_QUEUE = insert(_OUTBOX).returning(*_OUTBOX.c, sort_by_parameter_order=True)


def insert_ignoring(dialect: str) -> Any:
    """The dialect's INSERT that can do nothing on a unique conflict."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


@dataclass(frozen=True)
class IntakeLimits:
    """How many new chats may reach the room per ``window``: from one customer
    conversation, and from one channel (Web Chat, Teams...). Chats beyond them are kept
    and answered, and their cards posted later, spread over the following windows."""

    per_conversation: int = 3
    per_channel: int = 60
    window: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class MailPolicy:
    """When an agent's reply also goes by mail: the customer writes from one of
    ``channels`` (the website's, where closing the tab ends the conversation), gave an
    e-mail address, and wrote nothing for ``after``; replies of one absence written
    within ``batch`` of the first go in one mail."""

    channels: frozenset[str]
    after: timedelta = timedelta(minutes=5)
    batch: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class Policy:
    """The routing knobs a company sets: the most chats an agent may own where the
    department sets no limit (None: unlimited), when a waiting chat is announced again,
    how fast new chats may reach a room, and when replies also go by mail (None: never).
    Fixed for the store's life."""

    unanswered_after: timedelta = timedelta(seconds=120)
    default_capacity: int | None = None
    intake_limits: IntakeLimits = IntakeLimits()
    # Automatic assignment: how long an agent has to accept an offered chat, and how
    # often at most a queued customer is told that their place changed.
    assignment_offer: timedelta = timedelta(seconds=30)
    queue_notice: timedelta = timedelta(seconds=30)
    mail: MailPolicy | None = None
    # How long the company's bot may leave a line unanswered (None: no bot configured).
    first_bot_timeout: timedelta | None = None


@dataclass(frozen=True)
class Lease:
    """Whose a row written leased is, and until when (the dispatcher of this replica)."""

    owner: str
    until: datetime


class Unit:
    """One transaction of the store, as the ``do_*`` functions and dialogs see it."""

    def __init__(
        self,
        conn: AsyncConnection,
        now: datetime,
        policy: Policy = Policy(),
        lease: Lease | None = None,
    ) -> None:
        """``lease``: rows this unit queues into a lane its reads found idle are written
        leased to it (None: every row waits for a dispatcher to lease it)."""
        self.conn = conn
        self.now = now
        self.policy = policy
        self.lease = lease
        self.dialect: str = conn.dialect.name
        # Outgoing rows this unit wrote, as the hand-over gives them to the dispatcher.
        self.added: list[OutboxItem] = []
        # Lanes this unit's reads found with nothing waiting: its first row in one of them
        # is written already leased (no separate lease statement).
        self.idle_lanes: set[str] = set()
        self._leased_lanes: set[str] = set()
        # Agents whose console sessions this unit ended: their streams are woken after it
        # commits (``store.console_sessions``).
        self.ended_sessions: set[int] = set()
        self._notes: list[dict[str, Any]] = []
        self._outgoing: list[dict[str, Any]] = []
        self._session: AsyncSession | None = None
        # The earliest database timer (an announcement, an offer's expiry) this unit set:
        # after commit the replica's timers are told, so they sleep until then.
        self.timer_at: datetime | None = None

    def timer(self, at: datetime) -> None:
        """Note that this unit sets a timer due ``at`` (the timers wake for it after commit)."""
        if self.timer_at is None or at < self.timer_at:
            self.timer_at = at

    @property
    def session(self) -> AsyncSession:
        """An ORM session on this unit's connection and transaction, made on first use;
        before each of its statements and flushes, what the unit holds is written."""
        if self._session is None:
            session = AsyncSession(bind=self.conn, expire_on_commit=False)
            event.listen(session.sync_session, "do_orm_execute", self._before_orm_statement)
            event.listen(session.sync_session, "before_flush", self._before_flush)
            self._session = session
        return self._session

    def _before_orm_statement(self, state: ORMExecuteState) -> None:
        self._write(state.session.connection())

    def _before_flush(self, session: Session, *_: Any) -> None:
        self._write(session.connection())

    async def execute(self, statement: Any, params: Any = None) -> Result[Any]:
        """Run a Core statement in this unit, after what it holds is written."""
        await self.settle()
        return await self.conn.execute(statement, params)

    async def scalar(self, statement: Any, params: Any = None) -> Any:
        return (await self.execute(statement, params)).scalar()

    async def settle(self) -> None:
        """Write what the unit holds: the session's changes, then lines and rows queued."""
        session = self._session
        if session is not None and (session.new or session.dirty or session.deleted):
            await session.flush()
        if self._notes or self._outgoing:
            await self.conn.run_sync(self._write)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the unit that may be undone alone (a SAVEPOINT). What the unit held
        before it is written first; what it queues inside is written inside, or dropped
        with it when it is undone, so nothing outlives the change it belonged to."""
        await self.settle()
        added, leased = len(self.added), set(self._leased_lanes)
        try:
            async with self.session.begin_nested():
                yield
                await self.settle()
        except BaseException:
            self._notes.clear()
            self._outgoing.clear()
            del self.added[added:]
            self._leased_lanes = leased
            raise

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _write(self, conn: Connection) -> None:
        """The queued transcript lines and outgoing rows, one INSERT each."""
        notes, self._notes = self._notes, []
        if notes:
            conn.execute(_MESSAGES, notes)
        outgoing, self._outgoing = self._outgoing, []
        if outgoing:
            for row in outgoing:
                lane = row["lane"]
                if self.lease and lane in self.idle_lanes and lane not in self._leased_lanes:
                    self._leased_lanes.add(lane)
                    row["lease_owner"], row["lease_until"] = self.lease.owner, self.lease.until
            self.added += outbox_items(conn.execute(_QUEUE, outgoing))

    def enqueue(self, items: Iterable[Outgoing]) -> None:
        """Queue activities to send once this unit commits (in its outbox rows)."""
        for item in items:
            chat_id = item.payload.pop(TRANSCRIPT_CHAT, None)
            said = item.payload.get("activity", {}).get("text")
            if chat_id is not None and said:
                self.note(chat_id, MessageKind.BOT, "", said)
            self._outgoing.append(
                {
                    "lane": item.lane,
                    "kind": item.kind,
                    "payload": item.payload,
                    "state": DeliveryState.PENDING,
                    "attempts": 0,
                    "next_attempt_at": (
                        self.now + timedelta(seconds=item.delay) if item.delay else self.now
                    ),
                    "lease_owner": None,
                    "lease_until": None,
                    "created_at": self.now,
                }
            )

    def note(
        self,
        chat_id: int,
        kind: MessageKind,
        author: str,
        text: str,
        *,
        agent_id: int | None = None,
        source_key: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> None:
        """Add a line to a chat's transcript."""
        self._notes.append(
            {
                "chat_id": chat_id,
                "kind": kind,
                "agent_id": agent_id,
                "author": author,
                "text": text,
                "source_key": source_key,
                "created_at": self.now,
                "attachments": attachments or None,
            }
        )

    def event(self, chat_id: int, event: ChatEvent, agent: Agent) -> None:
        """Keep in a chat's transcript that ``agent`` made ``event`` happen."""
        self.note(chat_id, MessageKind.ACTIVITY, agent.name, event, agent_id=agent.id)

    async def insert_ignore(self, table: Any, values: dict[str, Any], where: Any = None) -> bool:
        """INSERT that does nothing on a unique conflict, nor unless ``where`` holds (a
        precondition in the statement); True if a row was added."""
        insert_row = insert_ignoring(self.dialect)(table)
        if where is None:
            insert_row = insert_row.values(**values)
        else:
            columns = getattr(table, "__table__", table).c
            row = select(*(literal(v, columns[k].type) for k, v in values.items())).where(where)
            insert_row = insert_row.from_select(list(values), row)
        result = await self.execute(insert_row.on_conflict_do_nothing())
        return result.rowcount == 1

    async def first_time(self, keys: Sequence[str]) -> bool:
        """Record the inbound activity's keys in one statement; False if any was seen
        before (a channel's re-delivery, or Web Chat's retry under a new activity id)."""
        if not keys:
            return True
        distinct = list(dict.fromkeys(key[:_KEY_LIMIT] for key in keys))
        statement = _seen_statement(self.dialect, len(distinct))
        values: dict[str, Any] = {f"p_key{n}": key for n, key in enumerate(distinct)}
        values["p_at"] = self.now
        result = await self.execute(statement, values)
        return result.rowcount == len(distinct)


@cache
def _seen_statement(dialect: str, count: int) -> Any:
    """Recording ``count`` inbound keys, built once per dialect and count: this runs for
    every inbound activity, and building a statement costs more than running it."""
    at = bindparam("p_at", type_=UTCDateTime())
    rows = [{"key": bindparam(f"p_key{n}"), "received_at": at} for n in range(count)]
    return insert_ignoring(dialect)(InboundActivity.__table__).values(rows).on_conflict_do_nothing()
