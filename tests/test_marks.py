"""Delivery marks that wait to ride with a unit of work are written, whatever the timing.

A mark waits (``Marks.later``) until a unit of this replica writes it, or a unit of its
own after a short delay; until then its lane's head stays leased to the replica, so a
mark nobody writes holds its lane up until the lease runs out. The store here is a
stand-in whose commit takes the marks, as ``StoreCore.unit`` does, and is slow, as a
commit under load can be.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from bot.marks import Marks
from store.dispatch import Leasing

DELAY = 0.05
COMMIT = 0.3


class SlowCommits:
    """Units whose commit takes the waiting marks first, then takes ``COMMIT`` seconds."""

    def __init__(self) -> None:
        self.marks: Marks | None = None
        self.written: list[int] = []
        self.commits = asyncio.Condition()

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[None]:
        yield None
        assert self.marks is not None
        taken = self.marks.take()
        await asyncio.sleep(COMMIT)
        self.marks.written(tuple(taken))
        self.written += [item_id for item_id, _ in taken]
        async with self.commits:
            self.commits.notify_all()


async def _written(store: SlowCommits, marks: Marks, lane: str) -> None:
    """Until a commit wrote ``lane``'s mark (a bound only: it comes in a few delays)."""
    async with asyncio.timeout(5), store.commits:
        await store.commits.wait_for(lambda: not marks.pending(lane))


async def test_a_mark_made_while_the_last_ones_commit_is_written_too() -> None:
    """A mark made after a unit took the waiting ones, while that unit still commits, and
    whose own delay ends before it does, is written by the next unit of its own (not left
    for whatever unit the replica runs next, which an idle replica may not run for long)."""
    store = SlowCommits()
    marks = Marks(store, Leasing("replica", timedelta(seconds=30)), delay=DELAY)
    store.marks = marks
    marks.later([1], "lane-a")
    await asyncio.sleep(DELAY * 2)  # its unit took mark 1 and is committing
    marks.later([2], "lane-b")
    assert marks.pending("lane-b")
    await _written(store, marks, "lane-b")
    assert store.written == [1, 2]
