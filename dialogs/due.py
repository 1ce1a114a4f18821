"""When a timer job next has something to do, known in this process: the job skips its
database read until then, so that an idle bridge does not touch the database."""

from __future__ import annotations

from datetime import datetime, timedelta

# When nothing this replica offered is due, it still looks this often: an offer made by
# a replica that stopped before its time ran out is moved on by another.
SWEEP = timedelta(seconds=60)


class OfferClock:
    """When this replica's timer next looks for offers that ran out: the earliest
    expiry it knows of, so that an idle bridge does not read the database each tick."""

    def __init__(self) -> None:
        self._due: datetime | None = None  # None: look at the next tick (after a start)

    def expect(self, at: datetime) -> None:
        """An offer made here runs out at ``at``."""
        if self._due is not None and at < self._due:
            self._due = at

    def is_due(self, now: datetime) -> bool:
        return self._due is None or self._due <= now

    def looked(self, now: datetime, earliest: datetime | None) -> None:
        """After a look: next at the earliest pending offer, or after :data:`SWEEP`."""
        self._due = min(earliest, now + SWEEP) if earliest is not None else now + SWEEP
