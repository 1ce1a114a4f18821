"""Delivery marks, grouped: lanes whose sends finish together are marked in one commit.

A lane must not go on before its head is marked (the next row is not the head until
then), so each lane waits for its mark; one transaction marks every lane waiting at
that moment, which is what keeps a busy dispatcher at a fraction of a transaction per
send. The same transaction leases the next head of each lane that has more waiting
(and on SQLite claims its budgets), so a busy lane goes on without a lease of its own.

A post with nothing known behind it, and no thread to record, need not hold its lane
up for its mark: the mark waits (``later``) to ride with the next unit of work of this
replica (``store.handover.hand_over`` writes it last in that unit, and leases the next
heads of its lanes with the unit's own: the customer's next line then costs one
transaction, its predecessor's mark included), or is written alone, in a unit of its
own, after ``delay`` seconds. Until it is written its lane's head stays leased to this
replica, so whoever is told of rows behind it asks ``pending`` first, and waits for the
mark (the unit that writes it leases them).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from store import dispatch
from store.dispatch import Leasing
from store.handover import SendBudgets
from store.models import OutboxItem
from store.unit import Unit

log = logging.getLogger(__name__)

# A row that created a chat's thread records where its card went: (chat, thread, card).
Thread = tuple[int, str, str]


class MarkStore(Protocol):
    def unit(self) -> AbstractAsyncContextManager[Unit]: ...


@dataclass(frozen=True)
class Marked:
    """A post's mark: whether its lease was still ours (so its outcome is the one
    recorded), and the lane's next run, leased with the mark (empty: not asked for, or
    nothing was free and due); ``claimed``: that run's budgets were claimed too."""

    ours: bool
    following: list[OutboxItem] = field(default_factory=list)
    claimed: bool = False


@dataclass
class _Waiting:
    ids: list[int]
    thread: Thread | None
    lane: str | None
    done: asyncio.Future[Marked]


class Marks:
    """Marks waiting to be committed, and the one task committing them."""

    def __init__(
        self,
        store: MarkStore,
        leasing: Leasing,
        budgets: SendBudgets | None = None,
        delay: float = 0.0,
    ) -> None:
        self._store = store
        self._leasing = leasing
        self._budgets = budgets
        self._waiting: list[_Waiting] = []
        self._marking: asyncio.Task[None] | None = None
        # Delivered rows whose marks wait for a unit to ride with (see ``later``), and the
        # lanes of those waiting or taken by a unit not yet committed.
        self._later: list[tuple[int, str]] = []
        self._unwritten: Counter[str] = Counter()
        self._delay = delay
        self._timer: asyncio.TimerHandle | None = None
        self._alone: asyncio.Task[None] | None = None

    def later(self, ids: list[int], lane: str) -> None:
        """Mark these rows of ``lane`` delivered with the next unit of this replica, or
        alone after the delay; the lane's drain goes on meanwhile."""
        self._later += [(item_id, lane) for item_id in ids]
        self._unwritten.update([lane] * len(ids))
        self._arm()

    def pending(self, lane: str) -> bool:
        """Whether a mark of this lane waits or is being written: its head is still leased
        to this replica, so a lease of the lane fails until the mark commits."""
        return self._unwritten[lane] > 0

    def take(self) -> list[tuple[int, str]]:
        """The marks waiting to ride, for a unit of work to write (``written`` once it
        commits, ``give_back`` if it does not)."""
        marks, self._later = self._later, []
        return marks

    def give_back(self, marks: list[tuple[int, str]]) -> None:
        """A unit that took marks did not commit: they wait again."""
        if marks:
            self._later += marks
            self._arm()

    def written(self, marks: tuple[tuple[int, str], ...]) -> None:
        """A unit committed these riding marks (rows and their lanes)."""
        self._unwritten.subtract(lane for _, lane in marks)
        for _, lane in marks:
            if self._unwritten[lane] <= 0:
                del self._unwritten[lane]

    async def flush(self) -> None:
        """Write the marks that wait now, in a unit of their own (before leasing a lane
        whose mark waits, or when closing)."""
        if self._later:
            # A unit with no work of its own: its commit writes the waiting marks (the
            # store asks ``take``), and leases their lanes' next heads.
            async with self._store.unit():
                pass

    def _arm(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._due)

    def _due(self) -> None:
        self._timer = None
        if not self._later:
            return
        if self._alone is not None and not self._alone.done():
            # A unit of their own is committing, and may have taken the marks that waited
            # before these came: look again after the delay. Dropped here, they would wait
            # for whatever unit the replica runs next (an idle one may run none for long),
            # their lanes held up meanwhile.
            self._arm()
            return
        self._alone = asyncio.create_task(self._write_alone())

    async def _write_alone(self) -> None:
        try:
            await self.flush()
        except Exception:
            log.exception("delivery marks could not be written; trying again")

    async def delivered(self, ids: list[int], thread: Thread | None, more: str | None) -> Marked:
        """Mark a post's rows delivered (``thread`` goes with the first); ``more``: the
        lane, when rows wait behind the post, to lease its next head in the same commit."""
        done: asyncio.Future[Marked] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(ids, thread, more, done))
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark_all())
        return await done

    async def _mark_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            marks = [
                (item_id, entry.thread if n == 0 else None)
                for entry in batch
                for n, item_id in enumerate(entry.ids)
            ]
            lanes = sorted({entry.lane for entry in batch if entry.lane is not None})
            try:
                async with self._store.unit() as tx:
                    ours = await dispatch.delivered(tx, marks, self._leasing.owner)
                    runs, claimed = await dispatch.lease_runs(
                        tx, lanes, self._leasing, self._budgets
                    )
            except Exception as error:
                for entry in batch:
                    entry.done.set_exception(error)
                continue
            for entry in batch:
                run = runs.get(entry.lane, []) if entry.lane is not None else []
                claim = bool(run) and run[0].id in claimed
                entry.done.set_result(Marked(entry.ids[0] in ours, run, claim))
