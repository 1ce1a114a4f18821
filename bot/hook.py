"""The store's post-commit hook: how what a unit of work queued reaches the dispatcher."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from bot.pacing import Pacer
from store.handover import Handover


class Receiver(Protocol):
    """The dispatcher as the commit hook passes commits on to it."""

    @property
    def budgets(self) -> Pacer | None: ...

    def committed(self, handover: Handover) -> None: ...

    def take_marks(self) -> list[tuple[int, str]]: ...

    def give_back_marks(self, marks: list[tuple[int, str]]) -> None: ...


class CommitHook:
    """Where the store hands what a commit queued to the dispatcher.

    The Store takes its post-commit hook at construction and the Dispatcher takes the
    Store at construction, so one of them would have to be patched into the other
    afterwards. Instead this small object is made first and given to both: it is the
    store's hook (the ``DeliveryHook`` of ``store.handover``: the identity rows are
    leased under, ``owner`` and ``lease``, and the budgets a lease may claim) and it
    passes each :class:`~store.handover.Handover` on to the dispatcher attached to it.
    A commit made before that dispatcher exists (while the app starts) is kept and
    passed on then; nothing else is ever rewired.
    """

    def __init__(self, lease: timedelta, owner: str | None = None) -> None:
        self.owner = owner or uuid.uuid4().hex
        self.lease = lease
        self._receiver: Receiver | None = None
        self._early: list[Handover] = []
        # Who is told of database timers commits set (the replica's timers), if anyone.
        self._timers: Callable[[datetime], None] | None = None
        # Told of every commit that queued rows (the console's live list waits on it).
        self._watchers: list[Callable[[], None]] = []
        self._early_timer: datetime | None = None

    @property
    def budgets(self) -> Pacer | None:
        """The attached dispatcher's send budgets (None before it exists, or unpaced)."""
        return self._receiver.budgets if self._receiver is not None else None

    def committed(self, handover: Handover) -> None:
        """Called by the store after a commit that queued rows or wrote the dispatcher's
        marks (see ``StoreCore.unit``)."""
        if handover.queued:
            for watcher in self._watchers:
                watcher()
        if self._receiver is None:
            self._early.append(handover)
        else:
            self._receiver.committed(handover)

    def take_marks(self) -> list[tuple[int, str]]:
        """Delivered rows whose marks a unit of work writes first (``store.handover``)."""
        return self._receiver.take_marks() if self._receiver is not None else []

    def give_back_marks(self, marks: list[tuple[int, str]]) -> None:
        """The unit that took these marks did not commit."""
        if self._receiver is not None:
            self._receiver.give_back_marks(marks)

    def timer_set(self, at: datetime) -> None:
        """Called by the store after a commit that set a database timer due ``at``."""
        if self._timers is None:
            self._early_timer = at if self._early_timer is None else min(at, self._early_timer)
        else:
            self._timers(at)

    def watch(self, watcher: Callable[[], None]) -> None:
        """Call ``watcher`` after every commit that queued rows."""
        self._watchers.append(watcher)

    def attach_timers(self, wake: Callable[[datetime], None]) -> None:
        """Tell ``wake`` of the timers commits set from now on (and of any set before)."""
        self._timers = wake
        early, self._early_timer = self._early_timer, None
        if early is not None:
            wake(early)

    def attach(self, receiver: Receiver) -> None:
        """Pass commits on to ``receiver`` from now on, starting with any kept ones."""
        if self._receiver is not None:
            raise RuntimeError("a commit hook serves one dispatcher")
        self._receiver = receiver
        early, self._early = self._early, []
        for handover in early:
            receiver.committed(handover)
