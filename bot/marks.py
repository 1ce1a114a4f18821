"""Delivery marks, grouped: lanes whose sends finish together are marked in one commit.

A lane must not go on before its head is marked (the next row is not the head until
then), so each lane waits for its mark; one transaction marks every lane waiting at
that moment, which is what keeps a busy dispatcher at a fraction of a transaction per
send.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from store import dispatch

# A row that created a chat's thread records where its card went: (chat, thread, card).
Thread = tuple[int, str, str]


class MarkStore(Protocol):
    async def delivered(self, items: list[tuple[int, Thread | None]], owner: str) -> set[int]: ...


class Marks:
    """Marks waiting to be committed, and the one task committing them."""

    def __init__(self, store: MarkStore, owner: str) -> None:
        self._store = store
        self._owner = owner
        self._waiting: list[tuple[list[int], Thread | None, asyncio.Future[bool]]] = []
        self._marking: asyncio.Task[None] | None = None

    async def delivered(self, ids: list[int], thread: Thread | None) -> bool:
        """Mark a post's rows delivered (``thread`` goes with the first); returns whether
        the first row's lease was still ours, so its outcome is the one recorded."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((ids, thread, done))
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._mark_all())
        return await done

    async def _mark_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            marks = [
                (item_id, thread if n == 0 else None)
                for ids, thread, _ in batch
                for n, item_id in enumerate(ids)
            ]
            try:
                async with self._store.unit() as tx:
                    ours = await dispatch.delivered(tx, marks, self._owner)
            except Exception as error:
                for _, _, done in batch:
                    done.set_exception(error)
            else:
                for ids, _, done in batch:
                    done.set_result(ids[0] in ours)
