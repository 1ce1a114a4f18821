"""Runs leased for the dispatcher by someone else's transaction, waiting for their lane.

A commit leases the heads of the lanes it wrote to, a delivery mark leases the next run
of its lane, and each hands the run over; the lane's drain takes them in order. On
PostgreSQL two units writing to one lane at once may both lease a row of it (each reads
before the other commits, so each finds its own row at the head), and both hand their
run to this replica: every run handed over is kept until it is taken, lowest first. A
run dropped here would stay leased to a dispatcher that forgot it, sent by nobody until
its lease ran out.
"""

from __future__ import annotations

from store.models import OutboxItem


class Handoffs:
    """Leased runs by lane, each lane's in the order of their heads."""

    def __init__(self) -> None:
        self._runs: dict[str, dict[int, list[OutboxItem]]] = {}

    def __contains__(self, lane: str) -> bool:
        return lane in self._runs

    def put(self, run: list[OutboxItem]) -> None:
        """Keep a leased run (its rows in one lane, head first) until its lane takes it."""
        if run:
            self._runs.setdefault(run[0].lane, {})[run[0].id] = run

    def take(self, lane: str) -> list[OutboxItem]:
        """The lane's run with the lowest head, removed ([] if none waits)."""
        runs = self._runs.get(lane)
        if not runs:
            return []
        run = runs.pop(min(runs))
        if not runs:
            del self._runs[lane]
        return run
