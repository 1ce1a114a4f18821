"""The figures of one measured run, computed from send and arrival times.

Both clocks are ``time.monotonic()`` of the bench process (the load generator and the connector
emulator share it), so a latency is simply arrival minus send, with no clock skew.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from bench.load import LoadOutcome
from bench.monitor import ResourceMonitor


def percentile(values: list[float], rank: float) -> float:
    """Nearest-rank percentile: a value that was really observed, never an interpolation."""
    if not values:
        return math.nan
    ordered = sorted(values)
    index = max(0, math.ceil(rank / 100.0 * len(ordered)) - 1)
    return ordered[index]


@dataclass(frozen=True)
class Figures:
    """What the table shows for one server on one database with one amount of open chats."""

    server: str
    engine: str
    open_chats: int
    chats: int
    messages: int
    accepted: int
    relayed: int
    errors: int
    missing: int
    seconds: float
    throughput: float
    posted_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    cpu_seconds: float
    db_cpu_seconds: float | None
    bench_cpu_seconds: float
    peak_rss_mb: float
    profiled: bool = False

    @property
    def label(self) -> str:
        return self.server if self.engine == "-" else f"{self.server} ({self.engine})"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunShape:
    """Who was measured and with how much load: the parts of Figures not computed from times."""

    server: str
    engine: str
    open_chats: int
    chats: int
    messages: int
    profiled: bool = False


def figures(
    shape: RunShape,
    outcome: LoadOutcome,
    arrivals: dict[str, float],
    monitor: ResourceMonitor,
) -> Figures:
    """Throughput over first POST -> last arrival; latency per message POST -> arrival.

    ``posted_per_second`` is how fast the server answered the POSTs: above the throughput, it
    means messages queue inside the server (the bridge answers before it relays).
    """
    latencies = [(arrivals[m] - sent) * 1000.0 for m, sent in outcome.sent.items() if m in arrivals]
    last = max(arrivals.values(), default=outcome.started)
    seconds = max(last - outcome.started, 1e-9)
    return Figures(
        server=shape.server,
        engine=shape.engine,
        open_chats=shape.open_chats,
        chats=shape.chats,
        messages=shape.messages,
        accepted=len(outcome.sent),
        relayed=len(latencies),
        errors=outcome.errors,
        missing=len(outcome.sent) - len(latencies),
        seconds=seconds,
        throughput=len(latencies) / seconds,
        posted_per_second=len(outcome.sent) / max(outcome.finished - outcome.started, 1e-9),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies, default=math.nan),
        cpu_seconds=monitor.cpu_seconds,
        db_cpu_seconds=monitor.db_cpu_seconds,
        bench_cpu_seconds=monitor.bench_cpu_seconds,
        peak_rss_mb=monitor.peak_rss_mb,
        profiled=shape.profiled,
    )
