"""Timers that live in the database: jobs fire whatever is due, when it is due.

A job finds its due rows and claims each with a conditional UPDATE, so a timer
fires once across replicas and still fires after a restart; this loop only
decides when to look.

With ``next_due`` (the earliest time any job has something to fire, read in one
statement), the loop sleeps until then instead of looking every ``interval``: an idle
replica reads the database once per ``idle`` seconds (a safety net for timers another
replica set and did not live to fire), and a commit on this replica that sets a timer
wakes the loop early (:meth:`Timers.wake`). ``interval`` stays the shortest time
between two looks. Without ``next_due`` the jobs run every ``interval`` (presence sync).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]
NextDue = Callable[[], Awaitable[datetime | None]]

# How many intervals an idle replica's timers sleep between looks, when nothing is due.
IDLE_INTERVALS = 15


async def first_of(*events: asyncio.Event, timeout: float | None = None) -> None:  # noqa: ASYNC109
    """Wait until any of ``events`` is set, or ``timeout`` seconds have passed."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


class Timers:
    def __init__(
        self,
        jobs: Sequence[Job],
        interval: float,
        *,
        next_due: NextDue | None = None,
        clock: Callable[[], datetime] | None = None,
        idle: float | None = None,
    ) -> None:
        self._jobs = tuple(jobs)
        self._interval = interval
        self._next_due = next_due
        self._clock = clock
        self._idle = idle if idle is not None else interval * IDLE_INTERVALS
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()
        # When the loop will look next (in the clock's time), for :meth:`wake`.
        self._planned: datetime | None = None

    def wake(self, at: datetime) -> None:
        """A timer due ``at`` was set (by a commit of this replica): look then, if that is
        earlier than planned."""
        if self._planned is None or at < self._planned:
            self._woken.set()

    async def _fire(self) -> None:
        for job in self._jobs:
            try:
                await job()
            except Exception:
                log.exception("timer job %s failed; it runs again next time", job)

    async def _sleep(self, seconds: float, wakeable: bool) -> None:
        events = (self._stopping, self._woken) if wakeable else (self._stopping,)
        await first_of(*events, timeout=max(0.0, seconds))

    async def run(self) -> None:
        if self._next_due is None or self._clock is None:
            while not self._stopping.is_set():
                await self._fire()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._interval)
            return
        while not self._stopping.is_set():
            self._woken.clear()
            try:
                due = await self._next_due()
            except Exception:
                log.exception("timers could not read what is due next; looking again soon")
                due = None
            now = self._clock()
            if due is not None and due <= now:
                await self._fire()
                wait = self._interval  # what fired is claimed; look again after a pause
            else:
                wait = self._idle
                if due is not None:
                    wait = min(wait, (due - now).total_seconds())
                wait = max(wait, self._interval)
            self._planned = due
            await self._sleep(wait, wakeable=True)
            if self._woken.is_set() and not self._stopping.is_set():
                # Woken by a commit: never look more often than every ``interval``.
                await self._sleep(self._interval, wakeable=False)

    def stop(self) -> None:
        self._stopping.set()
