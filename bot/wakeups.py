"""Wake-ups instead of polling: what tells an idle replica that something changed.

In the process, the store's commit hook passes on every commit that queued outgoing rows
(a new chat, an Accept, a tag, a close: everything the console's live list shows queues
a card or a notice). Across replicas, PostgreSQL's notifications: triggers of migration
0011 NOTIFY ``outbox`` (rows no replica leased, by lane) and ``chats`` (a chat, its seats
or its tags changed). One listening connection per replica hears both; it costs the
database nothing while nothing is said. SQLite has no notifications and needs none: one
process writes, and its own commits tell it everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

from bot.timers import first_of
from store import Store

log = logging.getLogger(__name__)

OUTBOX = "outbox"
CHATS = "chats"


class Changes:
    """A signal for readers that show chats (the console's live list): ``current()`` is an
    event set at the next change; take it before reading, then wait on it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def changed(self, *_: object) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()


async def listen(
    store: Store,
    heard: Mapping[str, Callable[[str], None]],
    stopping: asyncio.Event,
    retry: float,
) -> None:
    """Hear the channels until ``stopping``, again after a lost connection (``retry``
    seconds later). Each handler hears ``""`` once listening starts: what was said while
    nobody listened is found by one look."""
    while not stopping.is_set():
        try:
            # The replica's own commits told its dispatcher what they queued.
            async with store.listening(heard, own={OUTBOX}) as lost:
                if lost is None:
                    return  # no notifications on this engine
                for handler in heard.values():
                    handler("")
                await first_of(stopping, lost)
        except Exception:
            log.exception("listening for the database's notifications failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), retry)
