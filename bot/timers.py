"""Timers that live in the database: each tick runs jobs that fire whatever is due.

A job finds its due rows and claims each with a conditional UPDATE, so a timer
fires once across replicas and still fires after a restart; this loop only
decides how often to look.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class Timers:
    def __init__(self, jobs: Sequence[Job], interval: float) -> None:
        self._jobs = tuple(jobs)
        self._interval = interval
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            for job in self._jobs:
                try:
                    await job()
                except Exception:
                    log.exception("timer job %s failed; it runs again next tick", job)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)

    def stop(self) -> None:
        self._stopping.set()
