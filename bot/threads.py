"""Where the dispatcher's sends go: each chat's thread, remembered once learned.

A chat's thread is read from the database the first time a send needs it and kept (a
bounded cache): every line of a chat goes to the same thread, and pacing must know it
before the send, in the transaction that queues the line, where a query would cost
what pacing there is meant to save.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

from store import dispatch
from store.models import OutboxItem
from store.vocabulary import CreateThread, Send, UpdateCard, read_payload

THREAD_CACHE_SIZE = 10_000

Reference = dict[str, Any]


class ThreadMissing(Exception):
    """The chat's card was never posted, so nothing can go into its thread."""


class ThreadStore(Protocol):
    async def chat_reference(self, chat_id: int) -> tuple[Reference, str | None] | None: ...


def thread_reference(room: Reference, thread_id: str) -> Reference:
    """A room's reference, turned to one of its threads."""
    return {**room, "conversation": {**room["conversation"], "id": thread_id}}


class Threads:
    """Each chat's thread reference and card id, as this replica last saw them."""

    def __init__(self, store: ThreadStore, size: int = THREAD_CACHE_SIZE) -> None:
        self._store = store
        self._size = size
        self._known: OrderedDict[int, tuple[Reference, str | None]] = OrderedDict()

    async def of(self, chat_id: int) -> tuple[Reference, str | None]:
        """The chat's thread and card id; raises :class:`ThreadMissing` before its card."""
        known = self._known.get(chat_id)
        if known is not None:
            self._known.move_to_end(chat_id)
            return known
        async with self._store.reading() as tx:
            found = await dispatch.chat_reference(tx, chat_id)
        if found is None:
            raise ThreadMissing(f"chat {chat_id} has no thread")
        self._remember(chat_id, found)
        return found

    def posted(self, chat_id: int, room: Reference, thread_id: str, card_id: str) -> None:
        """A chat's card went out as a new thread (its first, or after a move): the
        thread replaces any other the chat had."""
        self._remember(chat_id, (thread_reference(room, thread_id), card_id))

    def forget(self, chat_id: int) -> None:
        self._known.pop(chat_id, None)

    def _remember(self, chat_id: int, found: tuple[Reference, str | None]) -> None:
        self._known[chat_id] = found
        self._known.move_to_end(chat_id)
        if len(self._known) > self._size:
            self._known.popitem(last=False)

    async def target(self, item: OutboxItem) -> Reference | None:
        """The conversation a send goes to (None: none to pace; a missing thread is the
        send's to report)."""
        found = self.known_target(item)
        if found is None and _in_thread(item):
            try:
                found, _ = await self.of(item.payload["chat_id"])
            except ThreadMissing:
                return None
        return found

    def known_target(self, item: OutboxItem) -> Reference | None:
        """:meth:`target` without a query (None also when the thread is not known here)."""
        match read_payload(item.kind, item.payload):
            case CreateThread(room=room):
                return room
            case UpdateCard(chat_id) | Send(conversation=None, chat_id=int(chat_id)):
                known = self._known.get(chat_id)
                return known[0] if known is not None else None
            case Send(conversation=reference):
                return reference
        # A personal conversation is opened by the send itself.
        return None


def _in_thread(item: OutboxItem) -> bool:
    """Whether the send goes to its chat's thread (not to a conversation it names)."""
    match read_payload(item.kind, item.payload):
        case UpdateCard():
            return True
        case Send(conversation=None):
            return True
    return False
