"""Prometheus metrics of one bridge process (``GET /metrics``).

Each app has its own ``CollectorRegistry``: tests start several apps in one process,
and the global registry would refuse the second set of names. Counters of what this
process did (activities in, deliveries, retries, refused authentications) live here;
figures of the shared database (outbox backlog, chats, waiting times) are read at
scrape time by :mod:`store.figures` and exposed by a collector.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from store.figures import Figures, Histogram, SettledFigures, read_figures


def outcome_of(status: int) -> str:
    """An HTTP answer to a channel, as a small set of outcomes a dashboard can chart."""
    if status < 300:
        return "handled"
    if status == 401:
        return "unauthenticated"
    if status < 500:
        return "refused"
    return "failed"


def _histogram(name: str, documentation: str, found: Histogram) -> HistogramMetricFamily:
    # The same spelling of ``le`` as prometheus-client's own histograms ("60.0").
    buckets = [(floatToGoString(le), float(n)) for le, n in found.buckets]
    buckets.append(("+Inf", float(found.count)))
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=found.total)


class _DatabaseFigures(Collector):
    """Exposes the figures of the last ``refresh`` (read just before each scrape)."""

    def __init__(self) -> None:
        self.figures: Figures | None = None

    def collect(self) -> Iterator[Metric]:
        found = self.figures
        if found is None:
            return
        yield GaugeMetricFamily(
            "bridge_outbox_pending", "Outbox rows not delivered yet", value=found.outbox_pending
        )
        yield GaugeMetricFamily(
            "bridge_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox row not delivered yet (0: none)",
            value=found.oldest_pending_age,
        )
        chats = GaugeMetricFamily(
            "bridge_chats", "Chats by state and department", labels=["state", "department"]
        )
        for state, department, count in found.chats:
            chats.add_metric([state, department], count)
        yield chats
        ai_today = GaugeMetricFamily(
            "bridge_ai_calls_today",
            "AI help's calls counted today (UTC) against the department's AI_CALLS_PER_DAY",
            labels=["department"],
        )
        for department, calls in found.ai_calls_today:
            ai_today.add_metric([department], calls)
        yield ai_today
        yield _histogram(
            "bridge_time_to_accept_seconds",
            "From a chat's first message to its Accept",
            found.time_to_accept,
        )
        yield _histogram(
            "bridge_time_to_first_reply_seconds",
            "From a chat's first message to the first reply relayed to the customer",
            found.time_to_first_reply,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.activities = Counter(
            "bridge_activities",
            "Activities received on /api/messages, by type and outcome",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.authentication_refused = Counter(
            "bridge_authentication_refused",
            "Activities refused for a missing or invalid Bot Framework token",
            registry=self.registry,
        )
        self.deliveries = Counter(
            "bridge_deliveries",
            "Sends of outbox rows to the Bot Connector, by outcome and HTTP status",
            ["outcome", "status"],
            registry=self.registry,
        )
        self.retries = Counter(
            "bridge_delivery_retries",
            "Sends of outbox rows that had failed before (second and later attempts)",
            registry=self.registry,
        )
        self.ai_calls = Counter(
            "bridge_ai_calls",
            "Calls to the AI provider, by kind (suggest, summary, translate), department "
            "and outcome (ok, empty, timeout, failed)",
            ["kind", "department", "outcome"],
            registry=self.registry,
        )
        # Counted by the engine's "begin" event: how often this replica touches the
        # database (an idle one should not, beyond its slow safety looks).
        self.transactions = Counter(
            "bridge_database_transactions",
            "Transactions this process began on the database (reads and writes)",
            registry=self.registry,
        )
        self._database = _DatabaseFigures()
        self.registry.register(self._database)
        # The closed chats' share of the figures, added up once (``SettledFigures``); one
        # scrape at a time brings it up to date, so two never add the same chats.
        self._settled = SettledFigures()
        self._reading = asyncio.Lock()

    def count_transactions(self, engine: AsyncEngine) -> None:
        """Count every transaction ``engine`` begins from now on."""
        event.listen(engine.sync_engine, "begin", lambda _connection: self.transactions.inc())

    def activity(self, kind: str | None, status: int) -> None:
        outcome = outcome_of(status)
        self.activities.labels(kind or "unreadable", outcome).inc()
        if outcome == "unauthenticated":
            self.authentication_refused.inc()

    def delivery(self, outcome: str, status: int | str | None, attempts: int) -> None:
        """One send: ``delivered`` (status ``2xx``), ``retry`` or ``failed``; None: no answer."""
        self.deliveries.labels(outcome, str(status) if status else "none").inc()
        if attempts > 0:
            self.retries.inc()

    async def exposition(self, engine: AsyncEngine, now: datetime) -> bytes:
        async with self._reading:
            self._database.figures = await read_figures(engine, now, self._settled)
        return generate_latest(self.registry)
