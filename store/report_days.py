"""Daily roll-ups of the report figures, so that a report of a year reads at most 366 rows
per department instead of every chat of the year.

A day's figures (``DayFigures``) are the report's sums over the chats a department
received that UTC day: counts, hours, scores, one line per agent (by id: a renamed agent's
chats follow the new name), and a histogram of each duration. They are kept
(``report_days``) only for *settled* days: every chat created that day, in every
department, is closed and was closed before the rating window (plus an hour for clocks)
began. Nothing can change such a day's figures any more: closed chats do not reopen,
change department or owner, and cannot be rated after the window. So a kept day is never
updated nor invalidated, and no unit of the relay's path writes here. The days after the
first unsettled chat, and the parts of days a range cuts, are read live from ``chats``.

A report's range is filled in by the read that asks for it: the days it had to read live
that are settled come back to the caller, who keeps them with ``do_keep_report_days`` in
a short write unit of its own (on SQLite the computation stays in the deferred read, out
of the writer's way). The first report of a year after an upgrade costs what it always
did; later ones read the kept days and today. The first day of a whole settled month also
carries the month's sums (``"m"`` in its row, written by the report that first finds all
its days settled): a year's report decodes the 11 or 12 months' rows and the days of the
months it cuts, not 365 days.

Percentiles cannot be summed from daily rows. Each duration is kept as a histogram of
buckets (``bucket_of``): one a second below 20 s, then each 5 % wider than the last, the
last holding everything from about 30 days. A median or 90th percentile over kept days
is the nearest rank found in the summed histogram, reported as its bucket's middle:
within half a second below 20 s, within 2.5 % above (the console and the card say so).
Every count, hour, score and agent line is exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from typing import Any

from sqlalchemy import Float, Integer, and_, case, cast, func, literal_column, select, union_all

from store.console_models import Rating, ReportDay
from store.models import Chat, ChatState
from store.ratings import RATING_WINDOW
from store.unit import Unit, insert_ignoring

# Bump when the layout of ``DayFigures.to_json`` or the buckets change: rows of another
# version are read as missing and computed again.
VERSION = 1
# Durations: one bucket a second below ``_LINEAR`` seconds, then buckets ``_GROWTH`` times
# wider than the one before, up to about 30 days (the last bucket holds the rest).
_LINEAR = 20
_GROWTH = 1.05
_TOP = _LINEAR + math.ceil(math.log(30 * 86400 / _LINEAR) / math.log(_GROWTH))
# A chat closed this long before a day is read can no longer change (rating window, and
# an hour for replicas whose clocks differ).
CLOCKS = timedelta(hours=1)
SETTLE = RATING_WINDOW + CLOCKS
MEASURES = ("accept", "reply", "handling")


def bucket_of(seconds: float) -> int:
    """The histogram bucket of a duration (the same arithmetic as ``_bucket_sql``)."""
    if seconds < _LINEAR:
        return max(0, math.floor(seconds))
    return min(_TOP, _LINEAR + math.floor(math.log(seconds / _LINEAR) / math.log(_GROWTH)))


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """``[low, high)`` of a bucket in seconds (the last one's high is infinite)."""
    if bucket < _LINEAR:
        return float(bucket), float(bucket + 1)
    low = _LINEAR * _GROWTH ** (bucket - _LINEAR)
    return low, (math.inf if bucket >= _TOP else low * _GROWTH)


def bucket_value(bucket: int) -> float:
    """What a percentile falling in a bucket is reported as: its middle (the last
    bucket's low end)."""
    low, high = bucket_bounds(bucket)
    return low if math.isinf(high) else (low + high) / 2


def _bucket_sql(seconds: Any) -> Any:
    value = cast(seconds, Float)
    geometric = _LINEAR + func.floor(func.ln(value / float(_LINEAR)) / math.log(_GROWTH))
    return cast(
        case(
            (value < 0, 0),
            (value < _LINEAR, func.floor(value)),
            (value >= bucket_bounds(_TOP)[0], _TOP),
            else_=geometric,
        ),
        Integer,
    )


@dataclass
class DayFigures:
    """The report's sums over some chats (one settled day, or what is read live)."""

    received: int = 0
    accepted: int = 0
    missed: int = 0
    open: int = 0
    rated: int = 0
    score_sum: int = 0
    distribution: list[int] = field(default_factory=lambda: [0] * 5)
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    # agent id -> [chats owned, of them rated, sum of their scores]
    agents: dict[int, list[int]] = field(default_factory=dict)
    # measure -> chats per bucket (``_TOP + 1`` counts: a year is summed at C speed)
    spreads: dict[str, list[int]] = field(
        default_factory=lambda: {name: [0] * (_TOP + 1) for name in MEASURES}
    )
    # On the first day of a whole settled month: the month's sums, kept in that day's row
    # (``"m"``), so that a year's report decodes 12 rows instead of 365.
    month: DayFigures | None = field(default=None, compare=False)

    @classmethod
    def summed(cls, many: Iterable[DayFigures]) -> DayFigures:
        """The sums of ``many`` (a year of days): each list summed column by column,
        all days at once (``zip`` and ``sum`` run in C; a day at a time, a year of
        histograms cost more than the statements that read them)."""
        days = list(many)
        total = cls()
        if not days:
            return total
        counts = [(d.received, d.accepted, d.missed, d.open, d.rated, d.score_sum) for d in days]
        (
            total.received,
            total.accepted,
            total.missed,
            total.open,
            total.rated,
            total.score_sum,
        ) = _columns(counts)
        total.distribution = _columns([d.distribution for d in days])
        total.hours = _columns([d.hours for d in days])
        for day in days:
            for agent, line in day.agents.items():
                mine = total.agents.setdefault(agent, [0, 0, 0])
                mine[0] += line[0]
                mine[1] += line[1]
                mine[2] += line[2]
        for name in MEASURES:
            total.spreads[name] = _columns([d.spreads[name] for d in days])
        return total

    def to_json(self) -> dict[str, Any]:
        """Compact: a year of days is decoded for each report (lists, no string keys; each
        histogram as its first bucket and the counts from there)."""
        return {
            "v": VERSION,
            "n": [self.received, self.accepted, self.missed, self.open, self.rated, self.score_sum],
            "s": self.distribution,
            "h": self.hours,
            "a": [[agent, *line] for agent, line in sorted(self.agents.items())],
            "d": [_trimmed(self.spreads[name]) for name in MEASURES],
            **({"m": self.month.to_json()} if self.month is not None else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DayFigures | None:
        """None for a row of another layout (computed again)."""
        if data.get("v") != VERSION:
            return None
        received, accepted, missed, open_, rated, score_sum = data["n"]
        spreads = {}
        for name, (first, *counts) in zip(MEASURES, data["d"], strict=True):
            spreads[name] = [0] * first + counts + [0] * (_TOP + 1 - first - len(counts))
        return cls(
            received=received,
            accepted=accepted,
            missed=missed,
            open=open_,
            rated=rated,
            score_sum=score_sum,
            distribution=data["s"],
            hours=data["h"],
            agents={agent: line for agent, *line in data["a"]},
            spreads=spreads,
        )


def _columns(rows: list[Any]) -> list[int]:
    """The sums of equally long rows, column by column."""
    return list(map(sum, zip(*rows, strict=True)))


def _trimmed(counts: list[int]) -> list[int]:
    """``[first bucket held, its count, the next one's, ...]`` up to the last one held."""
    held = [bucket for bucket, n in enumerate(counts) if n]
    if not held:
        return [0]
    return [held[0], *counts[held[0] : held[-1] + 1]]


def nearest_rank(counts: list[int], p: int) -> float | None:
    """The p-th percentile (nearest rank) of a histogram, as its bucket's value."""
    n = sum(counts)
    if not n:
        return None
    rank = max(1, math.ceil(p * n / 100))
    for bucket, seen in enumerate(accumulate(counts)):
        if seen >= rank:
            return bucket_value(bucket)
    return None  # pragma: no cover - the ranks add up to n


def seconds_between(dialect: str, later: Any, earlier: Any) -> Any:
    """``later - earlier`` in seconds, in each engine's own date arithmetic (rounded to the
    millisecond: SQLite's julian days carry a few microseconds of noise)."""
    if dialect == "sqlite":
        return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3)
    return func.extract("epoch", later - earlier)


def hour_of(dialect: str, column: Any) -> Any:
    """The hour of day (UTC) of a stored time."""
    if dialect == "sqlite":
        return cast(func.strftime("%H", column), Integer)
    return cast(func.extract("hour", func.timezone("UTC", column)), Integer)


def _day(dialect: str) -> Any:
    """The UTC day a chat was received."""
    if dialect == "sqlite":
        return func.date(Chat.created_at)
    return func.date(func.timezone("UTC", Chat.created_at))


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _utc_day(value: datetime) -> date:
    return value.astimezone(UTC).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


# Literal states: the partial indexes of open chats (``uq_chats_open_customer``) and of
# closed chats by close time (``ix_chats_closed_at``) serve only a literal.
_OPEN = Chat.state != literal_column("'closed'")
_CLOSED = Chat.state == literal_column("'closed'")


async def horizon(tx: Unit) -> date:
    """The first day whose figures may still change: today (until an hour past midnight,
    yesterday), or the day of the oldest chat still open or closed within ``SETTLE``, in
    any department (a waiting chat may yet move to another department). Each ``min``
    reads a partial index (open chats; closed chats by close time): ``coalesce`` keeps
    SQLite from walking every chat by creation time."""
    created = func.coalesce(Chat.created_at, Chat.created_at)
    oldest_open = select(func.min(created)).where(_OPEN).scalar_subquery()
    recently_closed = (
        select(func.min(created))
        .where(_CLOSED, Chat.closed_at >= tx.now - SETTLE)
        .scalar_subquery()
    )
    found = (await tx.execute(select(oldest_open, recently_closed))).one()
    # A day is over an hour after its end: a replica whose clock is behind may still be
    # opening chats on it.
    today = _utc_day(tx.now - CLOCKS)
    return min([today] + [_utc_day(value) for value in found if value is not None])


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def whole_months(first: date, last: date) -> list[date]:
    """The first days of the calendar months wholly in ``[first, last)``."""
    start = first if first.day == 1 else next_month(first)
    months = []
    while next_month(start) <= last:
        months.append(start)
        start = next_month(start)
    return months


def month_days(month: date) -> list[date]:
    return [month + timedelta(days=n) for n in range((next_month(month) - month).days)]


async def kept_months(tx: Unit, department_id: int, months: list[date]) -> dict[date, DayFigures]:
    """The sums of ``months`` kept in their first days' rows (a row without them, or of
    another layout, left out: that month's days are read one by one)."""
    if not months:
        return {}
    rows = await tx.execute(
        select(ReportDay.day, ReportDay.figures).where(
            ReportDay.department_id == department_id, ReportDay.day.in_(months)
        )
    )
    kept = {}
    for day, data in rows:
        figures = DayFigures.from_json(data.get("m") or {})
        if figures is not None:
            kept[_as_date(day)] = figures
    return kept


async def kept_days(
    tx: Unit, department_id: int, first: date, last: date, skip: Iterable[date] = ()
) -> dict[date, DayFigures]:
    """The department's kept days in ``[first, last)`` but in the months that begin on
    the days of ``skip`` (rows of another layout left out)."""
    rows = await tx.execute(
        select(ReportDay.day, ReportDay.figures).where(
            ReportDay.department_id == department_id,
            ReportDay.day >= first,
            ReportDay.day < last,
            *(~and_(ReportDay.day >= m, ReportDay.day < next_month(m)) for m in skip),
        )
    )
    kept = {}
    for day, data in rows:
        figures = DayFigures.from_json(data)
        if figures is not None:
            kept[_as_date(day)] = figures
    return kept


async def figures_by_day(tx: Unit, where: Any) -> dict[date, DayFigures]:
    """The report's sums over the chats ``where`` selects, one ``DayFigures`` per UTC day
    they were received, in five grouped statements over ``(department_id, created_at)``."""
    day = _day(tx.dialect).label("day")
    closed = Chat.state == ChatState.CLOSED
    by_day: dict[date, DayFigures] = {}

    def of(value: Any) -> DayFigures:
        return by_day.setdefault(_as_date(value), DayFigures())

    totals = (
        select(
            day,
            func.count(),
            func.count(Chat.accepted_at),
            func.count().filter(closed & Chat.accepted_at.is_(None)),
            func.count().filter(~closed),
            func.count(Rating.score),
            func.coalesce(func.sum(Rating.score), 0),
        )
        .select_from(Chat)
        .outerjoin(Rating, Rating.chat_id == Chat.id)
        .where(where)
        .group_by(day)
    )
    for at, received, accepted, missed, open_, rated, score_sum in await tx.execute(totals):
        figures = of(at)
        figures.received, figures.accepted, figures.missed = (
            int(received),
            int(accepted),
            int(missed),
        )
        figures.open, figures.rated, figures.score_sum = int(open_), int(rated), int(score_sum)
    hour = hour_of(tx.dialect, Chat.created_at)
    for at, when, n in await tx.execute(
        select(day, hour, func.count()).where(where).group_by(day, hour)
    ):
        of(at).hours[int(when)] = int(n)
    scores = (
        select(day, Rating.score, func.count())
        .join(Rating, Rating.chat_id == Chat.id)
        .where(where)
        .group_by(day, Rating.score)
    )
    for at, score, n in await tx.execute(scores):
        if 1 <= score <= 5:
            of(at).distribution[score - 1] = int(n)
    agents = (
        select(
            day,
            Chat.owner_id,
            func.count(),
            func.count(Rating.score),
            func.coalesce(func.sum(Rating.score), 0),
        )
        .select_from(Chat)
        .outerjoin(Rating, Rating.chat_id == Chat.id)
        .where(where, Chat.owner_id.is_not(None))
        .group_by(day, Chat.owner_id)
    )
    for at, agent, owned, rated, score_sum in await tx.execute(agents):
        of(at).agents[int(agent)] = [int(owned), int(rated), int(score_sum)]
    for name, at, bucket, n in await tx.execute(_spreads(tx.dialect, day, where)):
        of(at).spreads[name][int(bucket)] = int(n)
    return by_day


def _spreads(dialect: str, day: Any, where: Any) -> Any:
    """Each duration's histogram per day, in one ``UNION ALL``."""
    durations = {
        "accept": (Chat.accepted_at, Chat.created_at),
        "reply": (Chat.first_reply_at, Chat.created_at),
        "handling": (Chat.closed_at, Chat.accepted_at),
    }
    parts = []
    for name, (later, earlier) in durations.items():
        bucket = _bucket_sql(seconds_between(dialect, later, earlier)).label("bucket")
        parts.append(
            select(literal_column(f"'{name}'").label("name"), day, bucket, func.count())
            .where(where, later.is_not(None), earlier.is_not(None))
            .group_by(day, bucket)
        )
    return union_all(*parts)


async def do_keep_report_days(tx: Unit, department_id: int, days: dict[date, DayFigures]) -> int:
    """Keep settled days' figures (read by ``reports.rolled_report``). A day kept already
    is written over: by another replica or tab with the same figures (a settled day's are
    fixed), or in a layout of another ``VERSION``. Returns how many rows were written."""
    if not days:
        return 0
    rows = [
        {
            "department_id": department_id,
            "day": day,
            "figures": figures.to_json(),
            "created_at": tx.now,
        }
        for day, figures in sorted(days.items())
    ]
    statement = insert_ignoring(tx.dialect)(ReportDay).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[ReportDay.department_id, ReportDay.day],
        set_={"figures": statement.excluded.figures, "created_at": statement.excluded.created_at},
    )
    result = await tx.execute(statement)
    return int(result.rowcount or 0)
