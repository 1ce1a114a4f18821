"""Delivery marks, grouped: lanes whose sends finish together are marked in one commit.

A lane must not go on before its head is marked (the next row is not the head until
then), so each lane waits for its mark; one transaction marks every lane waiting at
that moment, which is what keeps a busy dispatcher at a fraction of a transaction per
send. The same transaction leases the next head of each lane that has more waiting
(and claims its budgets), so a busy lane goes on without a lease of its own.

A post with nothing known behind it, and no thread to record, need not hold its lane
up for its mark: the mark waits (``later``) to ride with the next unit of work of this
replica (``store.handover`` writes it before that unit leases: the customer's next line
then costs one transaction, its predecessor's mark included), or with the dispatcher's
next transaction, or is committed alone after ``delay`` seconds.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from store import dispatch
from store.dispatch import Leasing
from store.handover import SendBudgets
from store.models import OutboxItem
from store.unit import Unit

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
        # Rows delivered whose marks wait for a transaction to ride with (see ``later``).
        self._later: list[int] = []
        self._delay = delay
        self._timer: asyncio.TimerHandle | None = None

    def later(self, ids: list[int]) -> None:
        """Mark these rows delivered with the next transaction of this replica, or alone
        after the delay; the lane goes on meanwhile (nothing waits behind them)."""
        self._later += ids
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._due)

    def take(self) -> list[int]:
        """The marks waiting to ride, for a unit of work to write (``give_back`` if it
        does not commit)."""
        ids, self._later = self._later, []
        return ids

    def give_back(self, ids: list[int]) -> None:
        """A unit that took marks did not commit: they wait again."""
        if ids:
            self.later(ids)

    async def flush(self) -> None:
        """Commit the marks that wait now (before leasing a lane, or when closing)."""
        if self._later:
            await self.delivered([], None, None)

    def _due(self) -> None:
        self._timer = None
        if self._later and (self._marking is None or self._marking.done()):
            self._marking = asyncio.create_task(self._mark_all())

    async def delivered(self, ids: list[int], thread: Thread | None, more: str | None) -> Marked:
        """Mark a post's rows delivered (``thread`` goes with the first); ``more``: the
        lane, when rows wait behind the post, to lease its next head in the same commit."""
        done: asyncio.Future[Marked] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(ids, thread, more, done))
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark_all())
        return await done

    async def _mark_all(self) -> None:
        while self._waiting or self._later:
            batch, self._waiting = self._waiting, []
            riding = self.take()
            try:
                runs, claimed, ours = await self._commit(batch, riding)
            except Exception as error:
                for entry in batch:
                    entry.done.set_exception(error)
                # The riding marks go with the next batch, or after the delay.
                self.give_back(riding)
                if not self._waiting:
                    return
                continue
            for entry in batch:
                run = runs.get(entry.lane, []) if entry.lane is not None else []
                claim = bool(run) and run[0].id in claimed
                mine = not entry.ids or entry.ids[0] in ours
                entry.done.set_result(Marked(mine, run, claim))

    async def _commit(
        self, batch: list[_Waiting], riding: list[int]
    ) -> tuple[dict[str, list[OutboxItem]], frozenset[int], set[int]]:
        """One transaction: the marks of ``batch`` and ``riding``, and the next runs of
        the lanes that asked; the runs, the heads claimed, and the rows that were ours."""
        marks = [
            (item_id, entry.thread if n == 0 else None)
            for entry in batch
            for n, item_id in enumerate(entry.ids)
        ] + [(item_id, None) for item_id in riding]
        lanes = sorted({entry.lane for entry in batch if entry.lane is not None})
        async with self._store.unit() as tx:
            ours = await dispatch.delivered(tx, marks, self._leasing.owner)
            runs, claimed = await dispatch.lease_runs(tx, lanes, self._leasing, self._budgets)
        return runs, claimed, ours
