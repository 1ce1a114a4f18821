"""The store's core: sessions, the transaction every transition runs in, and views.

Every change is a conditional UPDATE whose row count decides the outcome, and the
activities it causes are written to the outbox in the same transaction
(``compose`` callbacks build them from the committed facts). Nothing here knows
the Bot Framework; references and activities are plain JSON.
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

from store import holding, outbox, pacing, people, views
from store.models import (
    Agent,
    Chat,
    Customer,
    Department,
    InboundActivity,
    MessageKind,
    OutboxItem,
    ParticipantRole,
    Setting,
)
from store.outbox import Outgoing
from store.unit import Policy, Unit, insert_ignoring
from store.views import ChatView, Person

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


ViewCompose = Callable[[ChatView], list[Outgoing]]


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
        self.policy = policy
        self.delivery: DeliveryHook | None = None

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
                await session.flush()
                for lane in sorted({row.lane for row in tx.added}):
                    item = await outbox.lease_head(
                        session, lane, self.delivery.owner, tx.now, self.delivery.lease
                    )
                    if item is not None:
                        leased.append(item)
        if tx.added and self.delivery is not None:
            taken = {item.id for item in leased}
            self.delivery.committed(leased, {row.lane for row in tx.added if row.id not in taken})

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

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """The unit's session, for transitions not yet written as ``do_*`` functions."""
        async with self.unit() as tx:
            yield tx.session

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

    @staticmethod
    def _enqueue(session: AsyncSession, items: list[Outgoing], now: datetime) -> None:
        session.info["unit"].enqueue(items)

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    async def _insert_ignore(session: AsyncSession, table: Any, values: dict[str, Any]) -> bool:
        """INSERT that does nothing on a unique conflict; True if a row was added."""
        insert = insert_ignoring(session)
        result = await session.execute(insert(table).values(**values).on_conflict_do_nothing())
        return result.rowcount == 1

    @staticmethod
    async def _first_time(session: AsyncSession, keys: Sequence[str]) -> bool:
        """Record the inbound activity keys; False if any of them was seen before."""
        return await session.info["unit"].first_time(keys)

    @staticmethod
    async def _agent(session: AsyncSession, person: Person) -> Agent:
        return await people.agent(session.info["unit"], person)

    @staticmethod
    async def _seat(
        session: AsyncSession, chat_id: int, agent_id: int, role: ParticipantRole
    ) -> None:
        await people.seat(session.info["unit"], chat_id, agent_id, role)

    @staticmethod
    async def _view(session: AsyncSession, chat_id: int) -> ChatView:
        return await views.chat_view(session, chat_id)

    @staticmethod
    async def _hold(session: AsyncSession, chat: Chat, customer: Customer) -> bool:
        return await holding.hold(session.info["unit"], chat, customer)

    @staticmethod
    def _note(
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
        session.info["unit"].note(
            chat_id,
            kind,
            author,
            text,
            agent_id=agent_id,
            source_key=source_key,
            attachments=attachments,
        )

    async def notify(self, dedupe_keys: Sequence[str], items: list[Outgoing]) -> bool:
        """Queue notices that change no chat, once per inbound activity."""
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return False
            self._enqueue(session, items, self.clock())
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
        """A server secret kept in the database, made once, so links survive restarts."""
        async with self._write() as session:
            await self._insert_ignore(
                session, Setting, {"key": key, "value": secrets.token_urlsafe(32)}
            )
            value = await session.scalar(select(Setting.value).where(Setting.key == key))
            assert value is not None
            return value
