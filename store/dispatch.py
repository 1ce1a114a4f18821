"""Delivery's side of the store: what the dispatcher leases, claims, marks and reads.

The hot path has no transaction of its own: a unit of work leases the heads it queued
(and on SQLite claims their budgets: ``store.handover``), and marks are grouped. What is here
serves the rest: lanes found by the sweep, backed-up lanes, retries, housekeeping.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update

from store import outbox, pacing
from store.core import Retention, StoreCore
from store.handover import SendBudgets, claim_budgets
from store.models import Chat, Department, InboundActivity, OutboxItem


class Dispatch(StoreCore):
    """The outbox as the dispatcher uses it."""

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
            return await outbox.lease_run(
                session, lane, owner, self.clock(), lease, room=room, limit=limit, only=only
            )

    async def lease_paced(
        self,
        lane: str,
        owner: str,
        lease: timedelta,
        budgets: SendBudgets,
        *,
        room: int,
        limit: int,
        only: Collection[int] | None = None,
    ) -> tuple[list[OutboxItem], bool]:
        """:meth:`lease_run`, and (on SQLite) the run's budgets claimed in the same
        transaction: the run and whether it got its slot (if not, the dispatcher claims
        and waits), so a lane that is backed up costs one transaction per post, not two."""
        async with self._write() as session:
            run = await outbox.lease_run(
                session, lane, owner, self.clock(), lease, room=room, limit=limit, only=only
            )
            claimed = await claim_budgets(session, run[:1], budgets)
            return run, bool(run) and run[0].id in claimed

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
