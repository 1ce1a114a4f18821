"""The store's core: sessions, the units of work every transition runs in, and delivery.

Every change is a conditional UPDATE whose row count decides the outcome, run by a
function of its aggregate in a unit of work (:meth:`StoreCore.unit`); the activities it
causes are queued with ``tx.enqueue`` in the same transaction. Nothing here knows the
Bot Framework; references and activities are plain JSON.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store import outbox, pacing
from store.models import (
    Chat,
    Department,
    InboundActivity,
    OutboxItem,
    Setting,
)
from store.outbox import Outgoing
from store.unit import Policy, Unit
from store.views import ChatView
from store.views import Person as Person  # dialogs and cards name the person from here

Clock = Callable[[], datetime]
T = TypeVar("T")

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


class DeliveryHook(Protocol):
    """The dispatcher as the store sees it: who leases, for how long, and the hand-over."""

    owner: str
    lease: timedelta

    def committed(self, leased: list[OutboxItem], unleased: set[str]) -> None: ...


DEFAULT_POLICY = Policy()


class StoreCore:
    """Sessions, one clock and the transaction that every named transition runs in."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
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
        self._sessions = sessions
        self._writer: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if serialize_writes else nullcontext()
        )
        self.clock = clock
        self.policy = policy
        self.delivery = delivery

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self._writer, self._sessions.begin() as session:
            yield session

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """One unit of work; what it queued is leased in it and handed over after commit.

        Leasing the head of each lane it wrote to inside the same transaction saves
        the dispatcher a transaction per message; a lane whose head is someone
        else's is left to them, as ``lease_head`` decides.
        """
        leased: list[OutboxItem] = []
        async with self._write() as session:
            tx = Unit(session, self.clock(), self.policy)
            session.info["unit"] = tx
            yield tx
            if tx.added and self.delivery is not None:
                leased = await self._lease_added(tx, self.delivery)
        if tx.added and self.delivery is not None:
            taken = {item.id for item in leased}
            self.delivery.committed(leased, {row.lane for row in tx.added if row.id not in taken})

    @staticmethod
    async def _lease_added(tx: Unit, delivery: DeliveryHook) -> list[OutboxItem]:
        """Lease for ``delivery`` the heads of the lanes the unit wrote to: a lane its reads
        found idle gets its first row written leased; the others in one UPDATE."""
        until = tx.now + delivery.lease
        heads: dict[str, OutboxItem] = {}
        for row in tx.added:
            heads.setdefault(row.lane, row)
        leased = [row for lane, row in heads.items() if lane in tx.idle_lanes]
        for row in leased:
            row.lease_owner, row.lease_until = delivery.owner, until
        await tx.session.flush()
        busy = sorted(lane for lane in heads if lane not in tx.idle_lanes)
        if busy:
            leased += await outbox.lease_heads(tx.session, busy, delivery.owner, tx.now, until)
        return leased

    async def settled(self, work: Callable[[Unit], Awaitable[T]], what: str) -> T:
        """Run ``work`` in a unit, in a new one when it lost a unique-key race to another
        replica (both created the same customer or open chat): the retry sees the
        winner's row. Retries wrap the whole unit, never one statement."""
        for _ in range(3):
            try:
                async with self.unit() as tx:
                    return await work(tx)
            except IntegrityError:
                continue
        raise RuntimeError(f"{what} could not be stored after retries")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Unit]:
        """A read-only unit: a session outside the writers' queue, for ``check_*`` reads."""
        async with self._sessions() as session:
            tx = Unit(session, self.clock(), self.policy)
            session.info["unit"] = tx
            yield tx

    async def notify(self, dedupe_keys: Sequence[str], items: list[Outgoing]) -> bool:
        """Queue notices that change no chat, once per inbound activity: the keys and the
        rows commit together, so a re-delivered activity is answered once."""
        async with self.unit() as tx:
            if not await tx.first_time(dedupe_keys):
                return False
            tx.enqueue(items)
            return True

    # -- delivery ----------------------------------------------------------------------------

    async def due_lanes(self, limit: int = 200) -> list[str]:
        async with self._sessions() as session:
            return await outbox.due_lanes(session, self.clock(), limit)

    async def purge(self, retention: Retention) -> int:
        """Housekeeping: delivered and failed outbox rows, and keys of handled activities,
        older than their retention (re-deliveries come within minutes, not days)."""
        now = self.clock()
        async with self._write() as session:
            removed = await outbox.purge(session, now - retention.delivered, now - retention.failed)
            removed += await pacing.purge(session, (now - retention.budgets).timestamp())
            result = await session.execute(
                delete(InboundActivity)
                .where(InboundActivity.received_at < now - retention.inbound)
                .execution_options(synchronize_session=False)
            )
            return removed + result.rowcount

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

    async def undeliverable(self, item_id: int | list[int], owner: str, error: str) -> None:
        ids = [item_id] if isinstance(item_id, int) else item_id
        async with self._write() as session:
            await outbox.finish(session, ids, owner, self.clock(), delivered=False, error=error)

    async def retry_later(
        self,
        item_id: int | list[int],
        owner: str,
        delay: float,
        error: str | None,
        *,
        attempted: bool = True,
    ) -> None:
        async with self._write() as session:
            until = self.clock() + timedelta(seconds=delay)
            await outbox.postpone(session, item_id, owner, until, error, attempted=attempted)

    async def lease_run(
        self,
        lane: str,
        owner: str,
        lease: timedelta,
        *,
        room: int,
        limit: int,
        only: Collection[int] | None = None,
    ) -> list[OutboxItem]:
        """Lease the lane's head and the lines of the same author right behind it (a card
        update that a newer one overtakes is settled on the way); [] if the head is not
        free or not due."""
        async with self._write() as session:
            now = self.clock()
            while True:
                head = await outbox.lease_head(session, lane, owner, now, lease)
                if head is None or not await outbox.drop_overtaken(session, head, now):
                    break
            if head is None:
                return []
            followers = await outbox.lease_followers(
                session,
                head,
                owner,
                now,
                lease,
                room=room - outbox.activity_size(head.payload),
                limit=limit - 1,
                only=only,
            )
            return [head, *followers]

    async def lease_more(
        self, last: OutboxItem, owner: str, lease: timedelta, *, room: int, limit: int
    ) -> list[OutboxItem]:
        """Lines that arrived behind a run while it waited for its budget."""
        async with self._write() as session:
            return await outbox.lease_followers(
                session, last, owner, self.clock(), lease, room=room, limit=limit
            )

    async def pace(
        self, claims: Sequence[pacing.Claim], now: float, headroom: float
    ) -> list[float]:
        """Decide send budgets for these claims in one transaction (see store.pacing)."""
        async with self._write() as session:
            return await pacing.claim(session, claims, now, headroom)

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

    async def secret(self, key: str) -> str:
        """A server secret kept in the database, made once, so links survive restarts (the
        unique key decides which replica's secret is kept when two start together)."""
        async with self.unit() as tx:
            await tx.insert_ignore(Setting, {"key": key, "value": secrets.token_urlsafe(32)})
            value = await tx.session.scalar(select(Setting.value).where(Setting.key == key))
            assert value is not None
            return value
