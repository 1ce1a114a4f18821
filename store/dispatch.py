"""Delivery's side of the store: what the dispatcher leases, claims, marks and reads,
as functions over a unit (reads in ``store.reading()``, changes in ``store.unit()``).

The hot path has no transaction of its own: a unit of work leases the heads it queued
(and on SQLite claims their budgets: ``store.handover``), and marks are grouped. What is here
serves the rest: lanes found by the sweep, backed-up lanes, retries, housekeeping.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from store import outbox, pacing
from store.core import Retention
from store.handover import SendBudgets, claim_budgets
from store.models import Chat, Department, InboundActivity, OutboxItem
from store.unit import Unit


async def due_lanes(tx: Unit, limit: int = 200) -> list[str]:
    return await outbox.due_lanes(tx, tx.now, limit)


async def next_due(tx: Unit) -> datetime | None:
    """When the sweep next has a row to find (a retry, a lease running out)."""
    return await outbox.next_due(tx)


async def purge(tx: Unit, retention: Retention) -> int:
    """Housekeeping: delivered and failed outbox rows, and keys of handled activities,
    older than their retention (re-deliveries come within minutes, not days)."""
    now = tx.now
    removed = await outbox.purge(tx, now - retention.delivered, now - retention.failed)
    removed += await pacing.purge(tx, (now - retention.budgets).timestamp())
    result = await tx.execute(
        delete(InboundActivity.__table__).where(
            InboundActivity.received_at < now - retention.inbound
        )
    )
    return removed + result.rowcount


async def delivered(
    tx: Unit, items: list[tuple[int, tuple[int, str, str] | None]], owner: str
) -> set[int]:
    """Mark items delivered in one transaction; returns those whose lease was ours.

    An item that created a chat's thread also records where the card went.
    """
    done = await outbox.finish(tx, [item_id for item_id, _ in items], owner, tx.now, delivered=True)
    for item_id, thread in items:
        if item_id in done and thread is not None:
            chat_id, thread_id, card_activity_id = thread
            await tx.execute(
                update(Chat.__table__)
                .where(Chat.id == chat_id)
                .values(thread_id=thread_id, card_activity_id=card_activity_id)
            )
    return done


async def undeliverable(tx: Unit, item_id: int | list[int], owner: str, error: str) -> None:
    ids = [item_id] if isinstance(item_id, int) else item_id
    await outbox.finish(tx, ids, owner, tx.now, delivered=False, error=error)


async def retry_later(
    tx: Unit,
    item_id: int | list[int],
    owner: str,
    delay: float,
    error: str | None,
    *,
    attempted: bool = True,
) -> None:
    until = tx.now + timedelta(seconds=delay)
    await outbox.postpone(tx, item_id, owner, until, error, attempted=attempted)


async def lease_run(
    tx: Unit,
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
    return await outbox.lease_run(tx, lane, owner, tx.now, lease, room=room, limit=limit, only=only)


@dataclass(frozen=True)
class Leasing:
    """How a dispatcher leases: as whom, for how long, and how big one post of several
    lines of one author may grow (``room`` bytes, ``limit`` rows)."""

    owner: str
    lease: timedelta
    room: int = 0
    limit: int = 1


async def lease_runs(
    tx: Unit,
    lanes: Sequence[str],
    leasing: Leasing,
    budgets: SendBudgets | None = None,
    *,
    only: Collection[int] | None = None,
) -> tuple[dict[str, list[OutboxItem]], frozenset[int]]:
    """:func:`lease_run` for each lane, and (on SQLite) the runs' budgets claimed in the
    same transaction: the runs by lane, and the ids of the heads that got their slot (the
    others' claims are left to the dispatcher, which waits). The marks' transaction leases
    the next runs of the lanes it marked this way, so a lane that is backed up costs no
    transaction of its own per post."""
    runs: dict[str, list[OutboxItem]] = {}
    for lane in lanes:
        run = await lease_run(
            tx,
            lane,
            leasing.owner,
            leasing.lease,
            room=leasing.room,
            limit=leasing.limit,
            only=only,
        )
        if run:
            runs[lane] = run
    return runs, await claim_budgets(tx, [run[0] for run in runs.values()], budgets)


async def lease_paced(
    tx: Unit,
    lane: str,
    owner: str,
    lease: timedelta,
    budgets: SendBudgets,
    *,
    room: int,
    limit: int,
) -> tuple[list[OutboxItem], bool]:
    """One lane's run (see :func:`lease_runs`) and whether it got its slot."""
    runs, claimed = await lease_runs(tx, [lane], Leasing(owner, lease, room, limit), budgets)
    run = runs.get(lane, [])
    return run, bool(run) and run[0].id in claimed


async def lease_more(
    tx: Unit, last: OutboxItem, owner: str, lease: timedelta, *, room: int, limit: int
) -> list[OutboxItem]:
    """Lines that arrived behind a run while it waited for its budget."""
    return await outbox.lease_followers(tx, last, owner, tx.now, lease, room=room, limit=limit)


async def pace(
    tx: Unit, claims: Sequence[pacing.Claim], now: float, headroom: float, within: float = 0.0
) -> list[tuple[float, bool]]:
    """Decide send budgets for these claims in one transaction, booking the slot of a send
    that waits at most ``within`` seconds (see :func:`store.pacing.book`)."""
    decided = await pacing.book(tx, claims, now, headroom, within)
    assert decided is not None  # a claim that is not in passing waits for the locks
    return decided


async def chat_reference(tx: Unit, chat_id: int) -> tuple[dict[str, Any], str | None] | None:
    """The thread of a chat as a reference, and its card's activity id, once posted."""
    row = (
        await tx.execute(
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
