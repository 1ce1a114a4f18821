"""The store's core: sessions, the units of work every transition runs in, and delivery.

Every change is a conditional UPDATE whose row count decides the outcome, run by a
function of its aggregate in a unit of work (:meth:`StoreCore.unit`); the activities it
causes are queued with ``tx.enqueue`` in the same transaction. Nothing here knows the
Bot Framework; references and activities are plain JSON.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.engine import READ_ONLY
from store.handover import DeliveryHook, Handover, hand_over
from store.models import (
    Setting,
)
from store.outbox import Outgoing
from store.unit import Lease, Policy, Unit
from store.views import ChatView
from store.views import Person as Person  # dialogs and cards name the person from here
from store.wakeups import SessionEnds

Clock = Callable[[], datetime]
T = TypeVar("T")

log = logging.getLogger(__name__)

DEFAULT_DEPARTMENT = "default"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Retention:
    """How long housekeeping keeps delivered and failed outbox rows and inbound keys."""

    delivered: timedelta = timedelta(hours=24)
    failed: timedelta = timedelta(days=30)
    inbound: timedelta = timedelta(hours=72)
    # Send budgets with no send for longer than their longest window (an hour).
    budgets: timedelta = timedelta(hours=2)


# Outcomes. Each transition answers with one of these (a refusal: ``vocabulary.Refused``);
# callers match on the type.
@dataclass(frozen=True)
class Duplicate:
    """The activity was handled before; nothing was changed."""


@dataclass(frozen=True)
class TagRequired:
    """The chat cannot be closed yet: its department requires a tag and it has none."""

    chat: ChatView


DEFAULT_POLICY = Policy()


class Attempt:
    """One try of a change: a unit whose loss of a unique-key race is noted, not raised
    (see :meth:`StoreCore.attempts`)."""

    def __init__(self, unit: AbstractAsyncContextManager[Unit]) -> None:
        self._unit = unit
        self.lost = False

    async def __aenter__(self) -> Unit:
        return await self._unit.__aenter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: Any
    ) -> bool:
        try:
            await self._unit.__aexit__(kind, error, trace)
        except IntegrityError as lost:
            error = lost
        if not isinstance(error, IntegrityError):
            return False
        self.lost = True
        log.info("a unit lost a unique-key race (%s); trying it again", type(error.orig).__name__)
        return True


class StoreCore:
    """Sessions, one clock and the transaction that every named transition runs in."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock = utc_now,
        *,
        policy: Policy = DEFAULT_POLICY,
        delivery: DeliveryHook | None = None,
        serialize_writes: bool = False,
    ) -> None:
        """Everything a store depends on is given here and never changed afterwards.

        ``policy``: the routing and intake knobs (frozen). ``delivery``: the post-commit
        hook that receives the outbox rows a transaction queued and leased (None: rows
        are only queued, and a dispatcher's sweep finds them). It is an argument rather
        than an attribute set later because the dispatcher itself needs the store: the
        app passes a small hand-over object (``bot.delivery.Handover``) made before both.

        ``serialize_writes``: queue write transactions in the process (for SQLite).
        SQLite has one writer; connections that meet its lock sleep in its busy
        handler in growing steps, leaving the process idle while work waits. An
        asyncio lock hands the writer's turn over at once instead.
        """
        self._engine = engine
        self._writer: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if serialize_writes else nullcontext()
        )
        self.clock = clock
        self.policy = policy
        self.delivery = delivery
        # This process's console streams, woken when a unit ends their sessions.
        self.session_ends = SessionEnds()
        # The server processes of this store's connections (PostgreSQL): a notification
        # one of them sent was said by this process's own commit.
        self._backends: set[int] = set()
        if engine.dialect.name == "postgresql":
            event.listen(engine.sync_engine, "connect", self._connected)
            # A closed connection's process id may be taken by another replica's next.
            event.listen(engine.sync_engine, "close", self._closed)
            event.listen(engine.sync_engine, "invalidate", self._closed)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self._writer, self._engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """One unit of work; what it queued is leased in it and handed over after commit.

        Leasing the head of each lane it wrote to (on SQLite, claiming its send's budgets
        too) inside the same transaction saves the dispatcher a transaction or two per
        message; a lane whose head is someone else's is left to them (``store.handover``).
        """
        handover: Handover | None = None
        hook = self.delivery
        marks: list[tuple[int, str]] = []
        try:
            async with self._write() as conn:
                now = self.clock()
                lease = Lease(hook.owner, now + hook.lease) if hook is not None else None
                tx = Unit(conn, now, self.policy, lease)
                try:
                    yield tx
                    await tx.settle()
                    if hook is not None:
                        # The dispatcher's waiting marks ride with the unit (written last,
                        # as every write of the outbox: see ``write_marks``).
                        marks = hook.take_marks()
                        if tx.added or marks:
                            handover = await hand_over(tx, hook, tuple(marks))
                finally:
                    await tx.close()
        except BaseException:
            if marks and hook is not None:
                hook.give_back_marks(marks)
            raise
        if handover is not None and hook is not None:
            hook.committed(handover)
        if tx.ended_sessions:
            self.session_ends.ended(tx.ended_sessions)
        if tx.timer_at is not None and hook is not None:
            hook.timer_set(tx.timer_at)

    async def attempts(self, what: str, tries: int = 3) -> AsyncIterator[Attempt]:
        """Units to try a change in, again when one lost a unique-key race to another
        replica (both created the same customer or open chat): the next sees the winner's
        row. Retries wrap the whole unit, never one statement, and take no callback::

            async for attempt in store.attempts("customer message"):
                async with attempt as tx:
                    ...
        """
        for _ in range(tries):
            attempt = Attempt(self.unit())
            yield attempt
            if not attempt.lost:
                return
        raise RuntimeError(f"{what} could not be stored after retries")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Unit]:
        """A read-only unit: a session outside the writers' queue, for ``check_*`` reads
        and the console's reports (on SQLite a deferred BEGIN: it never waits for, nor
        holds up, the writer)."""
        async with self._engine.connect() as conn:
            await conn.execution_options(**{READ_ONLY: True})
            tx = Unit(conn, self.clock(), self.policy)
            try:
                yield tx
            finally:
                await tx.close()

    def _connected(self, dbapi_connection: Any, record: Any) -> None:
        pid = getattr(dbapi_connection.driver_connection, "get_server_pid", None)
        if pid is not None:
            record.info["backend"] = pid()
            self._backends.add(record.info["backend"])

    def _closed(self, _dbapi_connection: Any, record: Any, *_: Any) -> None:
        self._backends.discard(record.info.pop("backend", None))

    @asynccontextmanager
    async def listening(
        self, heard: Mapping[str, Callable[[str], None]], own: Collection[str] = ()
    ) -> AsyncIterator[asyncio.Event | None]:
        """Hear PostgreSQL's notifications on each channel of ``heard`` (its handler gets
        the payload) while inside; yields an event set when the listening connection is
        lost, or None where the engine has no notifications (SQLite). ``own``: channels
        whose notifications sent by this store's own connections are not passed on (what
        its own commits said, they told this process already).

        The connection is held for the whole time, outside any transaction: listening
        costs the database nothing while nothing is said."""
        if self._engine.dialect.name != "postgresql":
            yield None
            return
        lost = asyncio.Event()

        def on_notification(_conn: Any, pid: int, channel: str, payload: str) -> None:
            if channel in own and pid in self._backends:
                return
            heard[channel](payload)

        async with self._engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            raw.add_termination_listener(lambda _conn: lost.set())
            for channel in heard:
                await raw.add_listener(channel, on_notification)
            try:
                yield lost
            finally:
                if not lost.is_set() and not raw.is_closed():
                    for channel in heard:
                        await raw.remove_listener(channel, on_notification)

    async def notify(self, dedupe_keys: Sequence[str], items: list[Outgoing]) -> bool:
        """Queue notices that change no chat, once per inbound activity: the keys and the
        rows commit together, so a re-delivered activity is answered once."""
        async with self.unit() as tx:
            if not await tx.first_time(dedupe_keys):
                return False
            tx.enqueue(items)
            return True

    async def secret(self, key: str) -> str:
        """A server secret kept in the database, made once, so links survive restarts (the
        unique key decides which replica's secret is kept when two start together)."""
        async with self.unit() as tx:
            await tx.insert_ignore(Setting, {"key": key, "value": secrets.token_urlsafe(32)})
            value = await tx.scalar(select(Setting.value).where(Setting.key == key))
            assert value is not None
            return value
