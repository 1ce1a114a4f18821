"""Figures for ``/metrics`` that live in the database, read in a few aggregate queries.

They are the same on every replica (the database is shared), survive restarts and count
each chat once whichever replica handled it; a dashboard takes them from any one replica.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, func, literal, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from store.engine import READ_ONLY
from store.models import AiBudget, Chat, ChatState, DeliveryState, Department, OutboxItem

# Seconds: from "at once" to "an hour", the range a support team's waits fall in.
BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts per upper bound (Prometheus' ``le``), the count and the sum."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    total: float


@dataclass(frozen=True)
class Figures:
    outbox_pending: int
    oldest_pending_age: float
    chats: tuple[tuple[str, str, int], ...]
    time_to_accept: Histogram
    time_to_first_reply: Histogram
    # AI help's calls counted today (UTC) per department key (its day budget).
    ai_calls_today: tuple[tuple[str, int], ...] = ()


def elapsed_seconds(dialect: str, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in seconds, in each engine's own date arithmetic."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


# A chat closed this long ago is counted once and kept by the process (below): a unit that
# closes a chat commits within seconds of the moment it wrote as ``closed_at``, never this late.
SETTLED_AFTER = timedelta(minutes=10)


@dataclass
class _Sums:
    """A histogram being added up: the count, the sum and the count per upper bound."""

    count: int = 0
    total: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))

    def add(self, row: Any) -> None:
        count, total, *cumulative = row
        self.count += int(count)
        self.total += float(total)
        self.buckets = [kept + int(n) for kept, n in zip(self.buckets, cumulative, strict=True)]

    def plus(self, other: _Sums) -> Histogram:
        summed = (a + b for a, b in zip(self.buckets, other.buckets, strict=True))
        return Histogram(
            buckets=tuple(zip(BUCKETS, summed, strict=True)),
            count=self.count + other.count,
            total=self.total + other.total,
        )


@dataclass
class SettledFigures:
    """The figures of chats closed before ``until``, kept by one process between scrapes.

    A closed chat never reopens, moves or changes its times, and chats are never deleted,
    so what it adds to the figures never changes: each scrape reads only the chats closed
    since the last one (by ``ix_chats_closed_at``) and the open ones, not a year of
    closed chats (a third of a second each scrape at 200,000). The first scrape of a
    process reads them all, once."""

    until: datetime | None = None
    closed: dict[int | None, int] = field(default_factory=dict)
    accept: _Sums = field(default_factory=_Sums)
    reply: _Sums = field(default_factory=_Sums)


async def _histogram(connection: Any, dialect: str, until: Any, where: Any) -> Any:
    seconds = elapsed_seconds(dialect, until, Chat.created_at)
    return (
        await connection.execute(
            select(
                func.count(),
                func.coalesce(func.sum(seconds), 0.0),
                *(func.coalesce(func.sum(case((seconds <= le, 1), else_=0)), 0) for le in BUCKETS),
            ).where(until.is_not(None), where)
        )
    ).one()


# Literal states: the partial indexes of open chats and of closed chats by close time.
_OPEN = text("chats.state != 'closed'")
_CLOSED = text("chats.state = 'closed'")


async def _settle(connection: Any, dialect: str, kept: SettledFigures, until: datetime) -> None:
    """Add the chats closed from ``kept.until`` to ``until`` to what the process keeps."""
    closed = [_CLOSED, Chat.closed_at < until]
    if kept.until is not None:
        closed.append(Chat.closed_at >= kept.until)
    where = and_(*closed)
    counted = await connection.execute(
        select(Chat.department_id, func.count(Chat.id)).where(where).group_by(Chat.department_id)
    )
    for department_id, n in counted:
        kept.closed[department_id] = kept.closed.get(department_id, 0) + int(n)
    kept.accept.add(await _histogram(connection, dialect, Chat.accepted_at, where))
    kept.reply.add(await _histogram(connection, dialect, Chat.first_reply_at, where))
    kept.until = until


async def read_figures(engine: AsyncEngine, now: datetime, kept: SettledFigures) -> Figures:
    """The database's figures now: the chats ``kept`` holds (brought up to ``now`` less
    ``SETTLED_AFTER``) and, read each time, the open chats and those closed since."""
    dialect = engine.dialect.name
    settled = now - SETTLED_AFTER
    async with engine.connect() as connection:
        await connection.execution_options(**{READ_ONLY: True})
        pending, oldest = (
            await connection.execute(
                select(func.count(OutboxItem.id), func.min(OutboxItem.created_at)).where(
                    OutboxItem.state == DeliveryState.PENDING
                )
            )
        ).one()
        if kept.until is None or settled > kept.until:
            await _settle(connection, dialect, kept, settled)
        live = or_(_OPEN, and_(_CLOSED, Chat.closed_at >= (kept.until or settled)))
        counts: dict[tuple[str, int | None], int] = {
            (ChatState.CLOSED, department_id): n for department_id, n in kept.closed.items()
        }
        found = await connection.execute(
            select(Chat.state, Chat.department_id, func.count(Chat.id))
            .where(live)
            .group_by(Chat.state, Chat.department_id)
        )
        for state, department_id, n in found:
            counts[(state, department_id)] = counts.get((state, department_id), 0) + int(n)
        names = dict((await connection.execute(select(Department.id, Department.name))).all())
        chats: dict[tuple[str, str], int] = {}
        for (state, department_id), n in counts.items():
            named = (str(state), names.get(department_id) or "")
            chats[named] = chats.get(named, 0) + n
        today = literal(":" + now.date().isoformat(), String)
        day_scope = literal("day:", String) + cast(Department.id, String) + today
        ai_today = (
            await connection.execute(
                select(Department.key, AiBudget.calls).join(AiBudget, AiBudget.scope == day_scope)
            )
        ).all()
        to_accept, to_reply = _Sums(), _Sums()
        to_accept.add(await _histogram(connection, dialect, Chat.accepted_at, live))
        to_reply.add(await _histogram(connection, dialect, Chat.first_reply_at, live))
    return Figures(
        outbox_pending=int(pending),
        oldest_pending_age=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        chats=tuple((state, department, n) for (state, department), n in chats.items()),
        time_to_accept=kept.accept.plus(to_accept),
        time_to_first_reply=kept.reply.plus(to_reply),
        ai_calls_today=tuple((key, int(calls)) for key, calls in ai_today),
    )
