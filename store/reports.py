"""Report figures of one department over a date range, for the console and ``@Bot report``.

Every figure is an SQL aggregate over the chats of the range (served by the index on
``(department_id, created_at)``): the database answers a few rows (totals, one per UTC
hour that had chats, five scores, one line per agent) whatever the range holds, and no
row of a year's chats reaches Python, so a report never holds up the event loop that
relays customers' messages. Percentiles are nearest-rank, computed the same way on SQLite
and PostgreSQL (SQLite has no percentile function): the p-th percentile of n sorted
values is the value at rank ceil(p/100 * n), a value that really occurred. The read runs
in the caller's unit (``store.reading()``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, literal_column, select, union_all

from store.console_models import Rating
from store.models import Agent, Chat, ChatState
from store.unit import Unit


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of a duration, in seconds (None: nothing measured)."""

    median: float | None
    p90: float | None
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(percentile(values, 50), percentile(values, 90), len(values))


@dataclass(frozen=True)
class AgentLine:
    name: str
    chats: int
    ratings: int
    average: float | None


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    received: int
    accepted: int
    missed: int
    open_now: int
    time_to_accept: Spread
    time_to_first_reply: Spread
    handling: Spread
    agents: tuple[AgentLine, ...]
    ratings: int
    score: float | None  # mean rating, 1 to 5
    distribution: tuple[int, ...]  # chats rated 1, 2, 3, 4, 5
    by_hour: tuple[int, ...]  # chats received per hour of day (the zone asked), 0 to 23


def seconds_between(dialect: str, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in seconds, in each engine's own date arithmetic (rounded to the
    millisecond: SQLite's julian days carry a few microseconds of noise)."""
    if dialect == "sqlite":
        return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3)
    return func.extract("epoch", later - earlier)


def _utc_hour(dialect: str, column: Any) -> Any:
    """The UTC hour a stored time falls in, as text ("2026-11-27 09"): the same on both
    engines (SQLite knows no zones), turned into the department's hours in Python."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H", column)
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")


def local_hour(utc_hour: str, zone: ZoneInfo) -> int:
    """The department's hour of day of a UTC hour (its middle, so a zone half an hour off
    UTC counts it in the hour most of it falls in), daylight saving included."""
    start = datetime.strptime(utc_hour, "%Y-%m-%d %H").replace(tzinfo=UTC)
    return (start + timedelta(minutes=30)).astimezone(zone).hour


async def _by_hour(tx: Unit, in_range: Any, zone: ZoneInfo) -> list[int]:
    """Chats received per hour of day in ``zone``, from one row per UTC hour that had any."""
    hour = _utc_hour(tx.dialect, Chat.created_at)
    hours = [0] * 24
    for at, n in await tx.execute(select(hour, func.count()).where(in_range).group_by(hour)):
        hours[local_hour(at, zone)] += int(n)
    return hours


_PERCENTILES = (50, 90)


async def _spreads(tx: Unit, chats: Any, durations: dict[str, Any]) -> dict[str, Spread]:
    """Median and 90th percentile of each duration, in one statement.

    PostgreSQL: ``percentile_disc``, which is the nearest rank (the first value whose
    cumulative share reaches p), in one pass over the range. SQLite has no percentile
    function: every duration's values are ranked by a window and only the ranks wanted
    come back."""
    if tx.dialect == "postgresql":
        return await _postgres_spreads(tx, chats, durations)
    parts = []
    for name, (later, earlier) in durations.items():
        value = seconds_between(tx.dialect, later, earlier).label("value")
        ranked = (
            select(
                value,
                func.row_number().over(order_by=value).label("rank"),
                func.count().over().label("n"),
            )
            .select_from(chats)
            .where(later.is_not(None), earlier.is_not(None))
            .subquery()
        )
        # Nearest rank ceil(p * n / 100) in integers (n >= 1), the same on both engines.
        wanted = [(ranked.c.n * p + 99) // 100 for p in _PERCENTILES]
        parts.append(
            select(
                literal_column(f"'{name}'").label("name"),
                ranked.c.rank,
                ranked.c.n,
                ranked.c.value,
            ).where(ranked.c.rank.in_(wanted))
        )
    found: dict[str, dict[int, float]] = {name: {} for name in durations}
    counts: dict[str, int] = dict.fromkeys(durations, 0)
    for name, rank, n, value in await tx.execute(union_all(*parts)):
        found[name][int(rank)] = float(value)
        counts[name] = int(n)
    spreads = {}
    for name in durations:
        n = counts[name]
        ranks = [max(1, math.ceil(p * n / 100)) for p in _PERCENTILES]
        values = [found[name].get(rank) for rank in ranks] if n else [None, None]
        spreads[name] = Spread(values[0], values[1], n)
    return spreads


async def _postgres_spreads(
    tx: Unit, chats: Any, durations: dict[str, Any]
) -> dict[str, Spread]:
    columns = []
    for later, earlier in durations.values():
        value = seconds_between(tx.dialect, later, earlier)
        columns += [func.percentile_disc(p / 100).within_group(value) for p in _PERCENTILES]
        columns.append(func.count(value))
    row = (await tx.execute(select(*columns).select_from(chats))).one()
    spreads = {}
    for n, name in enumerate(durations):
        median, p90, count = row[3 * n : 3 * n + 3]
        spreads[name] = Spread(
            float(median) if median is not None else None,
            float(p90) if p90 is not None else None,
            int(count),
        )
    return spreads


async def report(
    tx: Unit, department_id: int, since: datetime, until: datetime, zone_name: str = "UTC"
) -> Report:
    """Figures over the chats the department received in ``[since, until)``, hours of day
    in ``zone_name`` (the department's zone)."""
    in_range = and_(
        Chat.department_id == department_id,
        Chat.created_at >= since,
        Chat.created_at < until,
    )
    closed = Chat.state == ChatState.CLOSED
    totals = (
        await tx.execute(
            select(
                func.count(),
                func.count(Chat.accepted_at),
                func.count().filter(closed & Chat.accepted_at.is_(None)),
                func.count().filter(~closed),
                func.count(Rating.score),
                func.avg(Rating.score),
            )
            .select_from(Chat)
            .outerjoin(Rating, Rating.chat_id == Chat.id)
            .where(in_range)
        )
    ).one()
    received, accepted, missed, open_now, rated, score = totals
    hours = await _by_hour(tx, in_range, ZoneInfo(zone_name))
    distribution = [0] * 5
    for given, n in await tx.execute(
        select(Rating.score, func.count())
        .join(Chat, Chat.id == Rating.chat_id)
        .where(in_range)
        .group_by(Rating.score)
    ):
        if 1 <= given <= 5:
            distribution[given - 1] = int(n)
    owned = func.count().label("owned")
    agents = await tx.execute(
        select(Agent.name, owned, func.count(Rating.score), func.avg(Rating.score))
        .select_from(Chat)
        .join(Agent, Agent.id == Chat.owner_id)
        .outerjoin(Rating, Rating.chat_id == Chat.id)
        .where(in_range)
        .group_by(Agent.name)
        .order_by(owned.desc(), Agent.name)
    )
    chats = (
        select(Chat.created_at, Chat.accepted_at, Chat.first_reply_at, Chat.closed_at)
        .where(in_range)
        .subquery()
    )
    spreads = await _spreads(
        tx,
        chats,
        {
            "accept": (chats.c.accepted_at, chats.c.created_at),
            "reply": (chats.c.first_reply_at, chats.c.created_at),
            "handling": (chats.c.closed_at, chats.c.accepted_at),
        },
    )
    return Report(
        since=since,
        until=until,
        received=int(received),
        accepted=int(accepted),
        missed=int(missed),
        open_now=int(open_now),
        time_to_accept=spreads["accept"],
        time_to_first_reply=spreads["reply"],
        handling=spreads["handling"],
        agents=tuple(
            AgentLine(name, int(n), int(given), float(mean) if mean is not None else None)
            for name, n, given, mean in agents
        ),
        ratings=int(rated),
        score=float(score) if score is not None else None,
        distribution=tuple(distribution),
        by_hour=tuple(hours),
    )
