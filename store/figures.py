"""Figures for ``/metrics`` that live in the database, read in a few aggregate queries.

They are the same on every replica (the database is shared), survive restarts and count
each chat once whichever replica handled it; a dashboard takes them from any one replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store.engine import READ_ONLY
from store.models import AiBudget, Chat, DeliveryState, Department, OutboxItem

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


async def _histogram(connection: Any, dialect: str, until: Any) -> Histogram:
    seconds = elapsed_seconds(dialect, until, Chat.created_at)
    row = (
        await connection.execute(
            select(
                func.count(),
                func.coalesce(func.sum(seconds), 0.0),
                *(func.coalesce(func.sum(case((seconds <= le, 1), else_=0)), 0) for le in BUCKETS),
            ).where(until.is_not(None))
        )
    ).one()
    count, total, *cumulative = row
    return Histogram(
        buckets=tuple(zip(BUCKETS, (int(n) for n in cumulative), strict=True)),
        count=int(count),
        total=float(total),
    )


async def read_figures(engine: AsyncEngine, now: datetime) -> Figures:
    dialect = engine.dialect.name
    async with engine.connect() as connection:
        await connection.execution_options(**{READ_ONLY: True})
        pending, oldest = (
            await connection.execute(
                select(func.count(OutboxItem.id), func.min(OutboxItem.created_at)).where(
                    OutboxItem.state == DeliveryState.PENDING
                )
            )
        ).one()
        chats = (
            await connection.execute(
                select(Chat.state, func.coalesce(Department.name, ""), func.count(Chat.id))
                .outerjoin(Department, Department.id == Chat.department_id)
                .group_by(Chat.state, Department.name)
            )
        ).all()
        today = literal(":" + now.date().isoformat(), String)
        day_scope = literal("day:", String) + cast(Department.id, String) + today
        ai_today = (
            await connection.execute(
                select(Department.key, AiBudget.calls).join(AiBudget, AiBudget.scope == day_scope)
            )
        ).all()
        to_accept = await _histogram(connection, dialect, Chat.accepted_at)
        to_reply = await _histogram(connection, dialect, Chat.first_reply_at)
    return Figures(
        outbox_pending=int(pending),
        oldest_pending_age=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        chats=tuple((str(state), department, int(n)) for state, department, n in chats),
        time_to_accept=to_accept,
        time_to_first_reply=to_reply,
        ai_calls_today=tuple((key, int(calls)) for key, calls in ai_today),
    )
