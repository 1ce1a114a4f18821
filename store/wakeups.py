"""In-process wake-ups after a commit: whoever waits here (a console event stream) hears
at once that something it shows may have been taken back, instead of polling for it.

The database stays the truth: a woken waiter reads it again, and a waiter on another
replica (which hears nothing) finds the change at its next read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class SessionEnds:
    """Console sessions of these agents have just ended (signed out, or their role lost)."""

    def __init__(self) -> None:
        self._waiting: dict[int, set[asyncio.Event]] = {}

    @contextmanager
    def watch(self, agent_id: int) -> Iterator[asyncio.Event]:
        """An event set when a unit that ended ``agent_id``'s sessions commits."""
        event = asyncio.Event()
        waiters = self._waiting.setdefault(agent_id, set())
        waiters.add(event)
        try:
            yield event
        finally:
            waiters.discard(event)
            if not waiters:
                self._waiting.pop(agent_id, None)

    def ended(self, agent_ids: Iterable[int]) -> None:
        for agent_id in agent_ids:
            for event in self._waiting.get(agent_id, ()):
                event.set()
