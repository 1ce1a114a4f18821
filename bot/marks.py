"""Delivery marks, grouped: lanes whose sends finish together are marked in one commit.

A lane must not go on before its head is marked (the next row is not the head until
then), so each lane waits for its mark; one transaction marks every lane waiting at
that moment, which is what keeps a busy dispatcher at a fraction of a transaction per
send. The same transaction leases the next head of each lane that has more waiting
(and on SQLite claims its budgets), so a busy lane goes on without a lease of its own.
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
        self, store: MarkStore, leasing: Leasing, budgets: SendBudgets | None = None
    ) -> None:
        self._store = store
        self._leasing = leasing
        self._budgets = budgets
        self._waiting: list[_Waiting] = []
        self._marking: asyncio.Task[None] | None = None

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
