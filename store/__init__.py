"""Persistence: models, engine and the atomic state transitions of chats.

The store is functions per aggregate, each taking a unit of work first (``async with
store.unit() as tx`` to change, ``store.reading()`` to read), like aiohttp-demos'
``db.py``. :class:`Store` is only the core that opens those units over one session
factory, one clock and one policy.
"""

from store.core import StoreCore

# The name the rest of the bridge knows the store by: the core that opens units of work
# is all there is of it; everything else is functions over a unit.
Store = StoreCore


__all__ = ["Store"]
