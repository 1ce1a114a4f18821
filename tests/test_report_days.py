"""The report's daily roll-ups give the direct aggregate's figures, on both engines.

Seeded random months of chats (missed, unanswered, rated, owned by agents two of whom
share a name, durations from a second to days, a few still open) are read by the direct
aggregate (``reports.report``) and by the roll-ups (``reports.rolled_report``), before
and after their days are kept: every count, hour, score and agent line is identical; a
median or 90th percentile read from the days' histograms is within the bound the page
states (half a second, or 2.5 %)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from store import Store, migrate
from store.console_models import Rating, ReportDay
from store.engine import create_engine
from store.models import Agent, Chat, ChatState, Customer, Department
from store.report_days import bucket_bounds, bucket_of, bucket_value, do_keep_report_days
from store.reports import Report, Spread, report, rolled_report
from tests.conftest import ManualClock

NOW = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)
DAYS = 70
NAMES = ("Lan", "Minh", "Lan", "Hoa")  # two agents called Lan: one line, as the SQL groups


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    clock = ManualClock()
    clock.advance((NOW - clock()).total_seconds())
    yield Store(engine, clock, serialize_writes=database_url.startswith("sqlite"))
    await engine.dispose()


def _duration(rng: random.Random) -> float:
    """A second to two days, most of them minutes, with milliseconds."""
    return round(rng.choice((rng.uniform(0, 20), rng.uniform(20, 600), rng.uniform(600, 2e5))), 3)


def _chat(rng: random.Random, n: int, department: int, agents: list[int], customer: int) -> dict:
    opened = NOW - timedelta(days=DAYS) + timedelta(seconds=rng.uniform(0, DAYS * 86400))
    recent = NOW - opened < timedelta(days=2)
    state = rng.choice((ChatState.WAITING, ChatState.ACTIVE)) if recent and n % 4 == 0 else None
    accepted = None if n % 7 == 0 else opened + timedelta(seconds=_duration(rng))
    replied = (
        None if accepted is None or n % 5 == 0 else accepted + timedelta(seconds=_duration(rng))
    )
    closed = None if state else (accepted or opened) + timedelta(seconds=_duration(rng))
    if closed is not None and closed > NOW:
        closed = NOW - timedelta(seconds=1)
    return {
        "public_id": f"rd-{n}",
        "customer_id": customer,
        "department_id": department,
        "state": state or ChatState.CLOSED,
        "owner_id": None if accepted is None else rng.choice(agents),
        "created_at": opened,
        "accepted_at": accepted if accepted is None or accepted < NOW else None,
        "first_reply_at": replied if replied is None or replied < NOW else None,
        "closed_at": closed,
    }


async def seed(store: Store, seed: int, chats: int = 400) -> list[int]:
    """Two departments' chats over the last ``DAYS`` days; returns the departments."""
    rng = random.Random(seed)
    async with store.unit() as tx:
        departments = [
            (
                await tx.execute(
                    insert(Department)
                    .values(
                        key=f"d{n}",
                        name=f"D{n}",
                        channel_id=f"19:d{n}@thread.tacv2",
                        room_reference={},
                        created_at=NOW,
                    )
                    .returning(Department.id)
                )
            ).scalar_one()
            for n in range(2)
        ]
        agents = list(
            (
                await tx.execute(
                    insert(Agent).returning(Agent.id, sort_by_parameter_order=True),
                    [
                        {"teams_id": f"a{n}", "name": name, "created_at": NOW}
                        for n, name in enumerate(NAMES)
                    ],
                )
            ).scalars()
        )
        # One customer each: a customer has at most one open chat.
        customers = list(
            (
                await tx.execute(
                    insert(Customer).returning(Customer.id, sort_by_parameter_order=True),
                    [
                        {
                            "channel_id": "webchat",
                            "user_id": f"u{n}",
                            "name": "C",
                            "locale": "vi",
                            "reference": {},
                            "created_at": NOW,
                        }
                        for n in range(chats)
                    ],
                )
            ).scalars()
        )
        rows = [_chat(rng, n, departments[n % 3 == 0], agents, customers[n]) for n in range(chats)]
        ids = list(
            (
                await tx.execute(
                    insert(Chat).returning(Chat.id, sort_by_parameter_order=True), rows
                )
            ).scalars()
        )
        ratings = [
            {"chat_id": chat_id, "score": rng.randint(1, 5), "created_at": row["closed_at"]}
            for chat_id, row in zip(ids, rows, strict=True)
            if row["closed_at"] is not None and rng.random() < 0.4
        ]
        await tx.execute(insert(Rating), ratings)
    return departments


def ranges() -> list[tuple[datetime, datetime]]:
    """As the console asks (whole days, up to tomorrow) and as ``@Bot report`` does (to
    now, from an hour of the day)."""
    midnight = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        (midnight - timedelta(days=364), midnight + timedelta(days=1)),
        (midnight - timedelta(days=29), midnight + timedelta(days=1)),
        (midnight - timedelta(days=6), midnight - timedelta(days=2)),
        (NOW - timedelta(days=30), NOW),
        (NOW - timedelta(days=7), NOW),
    ]


def within_bound(binned: float | None, exact: float | None) -> bool:
    if binned is None or exact is None:
        return binned is exact
    return abs(binned - exact) <= max(0.5, 0.025 * exact) + 1e-9


def assert_same(rolled: Report, direct: Report) -> None:
    """Every figure identical; the percentiles identical too unless read from histograms,
    then within the stated bound."""
    counted = {
        k: v for k, v in asdict(rolled).items() if not isinstance(getattr(rolled, k), Spread)
    }
    expected = {
        k: v for k, v in asdict(direct).items() if not isinstance(getattr(direct, k), Spread)
    }
    counted.pop("binned")
    expected.pop("binned")
    assert counted == expected
    for name in ("time_to_accept", "time_to_first_reply", "handling"):
        mine, theirs = getattr(rolled, name), getattr(direct, name)
        assert mine.count == theirs.count, name
        if not rolled.binned:
            assert mine == theirs, name
        assert within_bound(mine.median, theirs.median), (name, mine, theirs)
        assert within_bound(mine.p90, theirs.p90), (name, mine, theirs)


@pytest.mark.parametrize("seed_value", [1, 2, 3])
async def test_the_rolled_report_gives_the_direct_figures(store: Store, seed_value: int) -> None:
    departments = await seed(store, seed_value)
    binned_seen = False
    for department in departments:
        for since, until in ranges():
            async with store.reading() as tx:
                direct = await report(tx, department, since, until)
                first, settled = await rolled_report(tx, department, since, until)
            assert_same(first, direct)
            async with store.unit() as tx:
                await do_keep_report_days(tx, department, settled)
            async with store.reading() as tx:
                again, left = await rolled_report(tx, department, since, until)
            assert left == {}, "every settled day of the range is kept after one read"
            assert_same(again, direct)
            binned_seen = binned_seen or again.binned
    assert binned_seen, "the kept days' histograms were read"
    async with store.reading() as tx:
        kept = (await tx.execute(select(func.count()).select_from(ReportDay))).scalar_one()
        newest = (await tx.execute(select(func.max(ReportDay.day)))).scalar_one()
    # 365 days of the year's range, per department; none from the last two (still open
    # chats, chats closed within the rating window).
    assert 0 < kept <= 2 * 366
    assert newest < (NOW - timedelta(days=2)).date()


async def test_an_old_open_chat_holds_its_day_and_the_later_ones_back(store: Store) -> None:
    """A waiting chat may yet move to another department: no day from its own on is kept,
    in any department, until it is closed and past the rating window."""
    departments = await seed(store, 4, chats=150)
    async with store.unit() as tx:
        old = (
            await tx.execute(
                select(Chat.id, Chat.created_at)
                .where(Chat.department_id == departments[1])
                .order_by(Chat.created_at)
                .offset(20)
                .limit(1)
            )
        ).one()
        await tx.execute(
            update(Chat).where(Chat.id == old.id).values(state=ChatState.WAITING, closed_at=None)
        )
    since, until = NOW - timedelta(days=DAYS + 1), NOW
    async with store.reading() as tx:
        _, settled = await rolled_report(tx, departments[0], since, until)
    assert settled and max(settled) < old.created_at.date()
    async with store.unit() as tx:
        await tx.execute(
            update(Chat).where(Chat.id == old.id).values(state=ChatState.CLOSED, closed_at=NOW)
        )
    async with store.reading() as tx:
        _, still = await rolled_report(tx, departments[0], since, until)
    assert max(still) < old.created_at.date(), "closed within the rating window: not yet"


def test_buckets_hold_their_values_within_the_stated_bound() -> None:
    rng = random.Random(5)
    for value in [0.0, 0.4, 19.999, 20.0, 59.5, 3600.0, 86400.0 * 29] + [
        rng.uniform(0, 3e6) for _ in range(2000)
    ]:
        bucket = bucket_of(value)
        low, high = bucket_bounds(bucket)
        assert low <= value * (1 + 1e-12) and value <= high * (1 + 1e-12), (value, low, high)
        if high != float("inf"):
            assert within_bound(bucket_value(bucket), value), value


async def test_a_day_of_another_layout_is_computed_and_written_over(store: Store) -> None:
    departments = await seed(store, 5, chats=120)
    since, until = NOW - timedelta(days=DAYS + 1), NOW
    async with store.reading() as tx:
        _, settled = await rolled_report(tx, departments[0], since, until)
    async with store.unit() as tx:
        await do_keep_report_days(tx, departments[0], settled)
        # The same days again (another tab, another replica): the same rows.
        await do_keep_report_days(tx, departments[0], settled)
        old = min(settled)
        await tx.execute(
            update(ReportDay)
            .where(ReportDay.department_id == departments[0], ReportDay.day == old)
            .values(figures={"v": 0})
        )
    async with store.reading() as tx:
        direct = await report(tx, departments[0], since, until)
        rolled, again = await rolled_report(tx, departments[0], since, until)
    assert list(again) == [old]
    assert_same(rolled, direct)
    async with store.unit() as tx:
        await do_keep_report_days(tx, departments[0], again)
    async with store.reading() as tx:
        _, left = await rolled_report(tx, departments[0], since, until)
        kept = (await tx.execute(select(func.count()).select_from(ReportDay))).scalar_one()
    assert left == {} and kept == len(settled)


async def test_a_whole_month_is_summed_once_into_its_first_day(store: Store) -> None:
    """A whole settled month's sums are kept in its first day's row, from days kept
    before and days read now alike; the next report reads the month, not its days, with
    the same figures, and has nothing left to keep."""
    departments = await seed(store, 6, chats=200)
    department = departments[0]
    may = datetime(2026, 5, 1, tzinfo=UTC)
    year = ranges()[0]
    async with store.reading() as tx:
        _, settled = await rolled_report(
            tx, department, may - timedelta(days=10), may.replace(day=10)
        )
    assert settled and all(figures.month is None for figures in settled.values())
    async with store.unit() as tx:
        await do_keep_report_days(tx, department, settled)
    async with store.reading() as tx:
        direct = await report(tx, department, *year)
        first, settled = await rolled_report(tx, department, *year)
    assert_same(first, direct)
    of_may = settled[may.date()].month
    assert of_may is not None and of_may.received > 0
    async with store.unit() as tx:
        await do_keep_report_days(tx, department, settled)
    async with store.reading() as tx:
        again, left = await rolled_report(tx, department, *year)
        rows = dict(
            (
                await tx.execute(
                    select(ReportDay.day, ReportDay.figures).where(
                        ReportDay.department_id == department
                    )
                )
            ).all()
        )
    assert left == {}, "the months are read: none is summed again"
    assert_same(again, direct)
    summed = sorted(day for day, figures in rows.items() if "m" in figures)
    assert may.date() in summed and all(day.day == 1 for day in summed)
    assert len(summed) == 11  # July 2025 to May 2026: the range begins on 16 June
