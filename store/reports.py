"""Report figures of one department over a date range, for the console and ``@Bot report``.

Every figure is an SQL aggregate over the chats of the range (served by the index on
``(department_id, created_at)``): the database answers a few rows (totals, one row per UTC
hour that had chats, five scores, one line per agent) whatever the range holds, and no
row of a year's chats reaches Python, so a report never holds up the event loop that
relays customers' messages. Percentiles are nearest-rank, computed the same way on
SQLite and PostgreSQL (SQLite has no percentile function): the p-th percentile of n
sorted values is the value at rank ceil(p/100 * n), a value that really occurred. The
read runs in the caller's unit (``store.reading()``).

``report`` is that direct aggregate. The console and ``@Bot report`` read
``rolled_report``: the same figures from the daily roll-ups of settled days
(``store.report_days``) and the chats of the rest, so that a year's report reads at most
366 rows per department instead of a year's chats.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, literal_column, or_, select, union_all

from store.console_models import Rating
from store.models import Agent, Chat, ChatState
from store.report_days import (
    MEASURES,
    DayFigures,
    day_start,
    figures_by_day,
    horizon,
    kept_days,
    kept_months,
    month_days,
    nearest_rank,
    seconds_between,
    whole_months,
)
from store.targets import TargetFigures, target_figures
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
    targets: TargetFigures | None = None  # the response-time targets' figures
    # The medians and 90th percentiles come from per-day histograms (``rolled_report``):
    # within half a second, or 2.5 % above 20 s.
    binned: bool = False


def _mean(total: Any, count: Any) -> float | None:
    """A mean score as the sum over the count, the same on both engines and both paths
    (an SQL ``avg`` is a numeric on PostgreSQL and could differ in the last digit)."""
    return int(total) / int(count) if count else None


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


async def _postgres_spreads(tx: Unit, chats: Any, durations: dict[str, Any]) -> dict[str, Spread]:
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


def _durations(where: Any, names: Any) -> tuple[Any, dict[str, Any]]:
    """The chats ``where`` selects, and the named durations over them (later, earlier)."""
    chats = (
        select(Chat.created_at, Chat.accepted_at, Chat.first_reply_at, Chat.closed_at)
        .where(where)
        .subquery()
    )
    durations = {
        "accept": (chats.c.accepted_at, chats.c.created_at),
        "reply": (chats.c.first_reply_at, chats.c.created_at),
        "handling": (chats.c.closed_at, chats.c.accepted_at),
    }
    return chats, {name: durations[name] for name in names}


async def report(
    tx: Unit, department_id: int, since: datetime, until: datetime, zone_name: str = "UTC"
) -> Report:
    """Figures over the chats the department received in ``[since, until)``, hours of day
    in ``zone_name`` (the department's zone), and over the waits under its response
    targets begun then."""
    figures = await _chats_report(tx, department_id, since, until, zone_name)
    return await _with_targets(tx, department_id, since, until, figures, zone_name)


async def _with_targets(
    tx: Unit, department_id: int, since: datetime, until: datetime, figures: Report, zone: str
) -> Report:
    """``figures`` with those of the waits under the response targets begun in the range
    (few rows: read live, beside the kept days), their hours in ``zone``."""
    hour = functools.partial(_utc_hour, tx.dialect)
    local = functools.partial(local_hour, zone=ZoneInfo(zone))
    found = await target_figures(tx, department_id, since, until, hour, local)
    return replace(figures, targets=found)


async def _chats_report(
    tx: Unit, department_id: int, since: datetime, until: datetime, zone_name: str
) -> Report:
    """Figures over the chats the department received in ``[since, until)``."""
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
                func.sum(Rating.score),
            )
            .select_from(Chat)
            .outerjoin(Rating, Rating.chat_id == Chat.id)
            .where(in_range)
        )
    ).one()
    received, accepted, missed, open_now, rated, score_sum = totals
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
        select(Agent.name, owned, func.count(Rating.score), func.sum(Rating.score))
        .select_from(Chat)
        .join(Agent, Agent.id == Chat.owner_id)
        .outerjoin(Rating, Rating.chat_id == Chat.id)
        .where(in_range)
        .group_by(Agent.name)
        .order_by(owned.desc(), Agent.name)
    )
    spreads = await _spreads(tx, *_durations(in_range, MEASURES))
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
            AgentLine(name, int(n), int(given), _mean(score, given))
            for name, n, given, score in agents
        ),
        ratings=int(rated),
        score=_mean(score_sum, rated),
        distribution=tuple(distribution),
        by_hour=tuple(hours),
    )


async def rolled_report(
    tx: Unit, department_id: int, since: datetime, until: datetime, zone_name: str = "UTC"
) -> tuple[Report, dict[date, DayFigures]]:
    """The same figures as ``report``, read from the kept months and days of the range
    and, live, from the chats of the rest; with the settled days it had to read live, for
    the caller to keep (``report_days.do_keep_report_days``, in a write unit of its own),
    and the first day of each whole settled month not yet summed, carrying the month's
    sums (``DayFigures.month``) to be kept in that day's row.

    A range that holds no whole settled day (today, the last hours) is ``report``'s,
    nothing to keep. Otherwise every count is the sum of the months' and days' (exactly
    the same as ``report``'s), and a median or 90th percentile is read from their
    histograms when settled days hold values of it (``Report.binned``), exact otherwise."""
    first = (since - timedelta(microseconds=1)).astimezone(UTC).date() + timedelta(days=1)
    last = min(until.astimezone(UTC).date(), await horizon(tx))
    if first >= last:
        return await report(tx, department_id, since, until, zone_name), {}
    months = whole_months(first, last)
    summed = await kept_months(tx, department_id, months)
    kept = await kept_days(tx, department_id, first, last, skip=summed)
    held = set(kept).union(*(month_days(month) for month in summed))
    where = and_(Chat.department_id == department_id, _outside(since, until, held))
    live = await figures_by_day(tx, where)
    settled = {
        day: live.get(day, DayFigures())
        for day in (first + timedelta(days=n) for n in range((last - first).days))
        if day not in held
    }
    total = DayFigures.summed((*summed.values(), *kept.values(), *live.values()))
    # A duration no settled day holds a value of (a new install, quiet days) is exact;
    # otherwise it is read from the histograms, the same before and after the days are kept.
    days = (*summed.values(), *kept.values(), *settled.values())
    exact = [name for name in MEASURES if not any(any(day.spreads[name]) for day in days)]
    spreads = await _spreads(tx, *_durations(where, exact)) if exact else {}
    rolled = await _from_days(tx, since, until, total, spreads)
    for month in months:
        if month not in summed:
            of_month = [kept.get(day) or settled[day] for day in month_days(month)]
            settled[month] = replace(of_month[0], month=DayFigures.summed(of_month))
    # Days keep UTC hours; each day's are that day's hours in the zone (daylight saving too;
    # a month's sums take its first day's offset).
    by_hour = _zone_hours((*summed.items(), *kept.items(), *live.items()), ZoneInfo(zone_name))
    rolled = replace(rolled, by_hour=by_hour)
    return await _with_targets(tx, department_id, since, until, rolled, zone_name), settled


def _zone_hours(days: Iterable[tuple[date, DayFigures]], zone: ZoneInfo) -> tuple[int, ...]:
    """Chats per hour of day in ``zone`` from days' counts per UTC hour: each UTC hour's
    middle in the zone, as ``local_hour`` says it. A year's months and days are about a
    thousand hours (parsed from text one by one, 15 ms a page): a day whose offset holds
    from its first hour's middle to its last's shifts them all by it."""
    hours = [0] * 24
    for day, figures in days:
        first = datetime(day.year, day.month, day.day, 0, 30, tzinfo=UTC)
        offset = first.astimezone(zone).utcoffset()
        if offset == (first + timedelta(hours=23)).astimezone(zone).utcoffset():
            shift = 30 + int(offset.total_seconds()) // 60 if offset is not None else 30
            for utc, n in enumerate(figures.hours):
                if n:
                    hours[(utc * 60 + shift) // 60 % 24] += n
            continue
        for utc, n in enumerate(figures.hours):
            if n:
                hours[(first + timedelta(hours=utc)).astimezone(zone).hour] += n
    return tuple(hours)


def _outside(since: datetime, until: datetime, kept: Collection[date]) -> Any:
    """``created_at`` in ``[since, until)`` but on none of the kept days: a few ranges."""
    ranges = []
    cursor = since
    for day in sorted(kept):
        if day_start(day) > cursor:
            ranges.append((cursor, day_start(day)))
        cursor = day_start(day + timedelta(days=1))
    if cursor < until:
        ranges.append((cursor, until))
    if not ranges:
        return Chat.id.is_(None)  # nothing is live: every day is kept
    return or_(*(and_(Chat.created_at >= low, Chat.created_at < high) for low, high in ranges))


async def _from_days(
    tx: Unit, since: datetime, until: datetime, total: DayFigures, exact: dict[str, Spread]
) -> Report:
    """The report of summed day figures (agents' names read for their ids); the
    durations not in ``exact`` from their histograms."""
    found = await tx.execute(select(Agent.id, Agent.name).where(Agent.id.in_(list(total.agents))))
    names = dict(found.all())
    lines: dict[str, list[int]] = {}
    for agent, (owned, rated, score_sum) in total.agents.items():
        line = lines.setdefault(names[agent], [0, 0, 0])
        line[0] += owned
        line[1] += rated
        line[2] += score_sum
    ordered = sorted(lines.items(), key=lambda item: (-item[1][0], item[0]))

    def spread(name: str) -> Spread:
        if name in exact:
            return exact[name]
        buckets = total.spreads[name]
        return Spread(nearest_rank(buckets, 50), nearest_rank(buckets, 90), sum(buckets))

    return Report(
        since=since,
        until=until,
        received=total.received,
        accepted=total.accepted,
        missed=total.missed,
        open_now=total.open,
        time_to_accept=spread("accept"),
        time_to_first_reply=spread("reply"),
        handling=spread("handling"),
        agents=tuple(
            AgentLine(name, owned, rated, _mean(score_sum, rated))
            for name, (owned, rated, score_sum) in ordered
        ),
        ratings=total.rated,
        score=_mean(total.score_sum, total.rated),
        distribution=tuple(total.distribution),
        by_hour=tuple(total.hours),
        binned=len(exact) < len(MEASURES),
    )
