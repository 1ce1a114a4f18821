"""Smoke test of the growth benchmark (``python -m bench --growth``) with tiny counts: the
seeding of a "year" with the bridge's tables, the traffic on empty and seeded databases,
the console pages and, on PostgreSQL, the transactions read from its statistics."""

from __future__ import annotations

import asyncio
import math

from bench.growth import GrowthOptions, figures, parse, render, run_growth
from tests.conftest import drop_postgres, scratch_postgres

TINY = {
    "lines": 3,
    "new_chats": 2,
    "messages_per_chat": 2,
    "idle_seconds": 2.0,
    "settle_seconds": 1.0,
}


def _check(pairs: list, engine: str, chats: int) -> dict[str, float]:
    (empty, seeded), = pairs
    assert (empty.engine, empty.chats) == (engine, 0)
    assert (seeded.engine, seeded.chats) == (engine, chats)
    for run in (empty, seeded):
        shown = figures(run)
        assert len(run.relay) == len(run.relay_under_console) == TINY["lines"]
        assert len(run.new_chat) == len(run.accept) == TINY["new_chats"]
        pages = [name for name in shown if name.startswith("page ")]
        assert len(pages) == 9 and all(shown[name] > 0 for name in pages)
    assert f"{chats:,} closed chats" in render(pairs)
    # The month's CSV measured again on a database holding that month alone.
    assert seeded.month_alone_csv is not None and seeded.month_alone_csv > 0
    assert empty.month_alone_csv is None
    assert "the month alone" in render(pairs)
    return figures(seeded)


def test_growth_on_sqlite_with_tiny_counts() -> None:
    options = GrowthOptions(sqlite_chats=40, skip_postgres=True, **TINY)
    shown = _check(asyncio.run(run_growth(options)), "sqlite", 40)
    assert "idle transactions per minute" not in shown


def test_growth_on_postgres_counts_transactions() -> None:
    url = asyncio.run(scratch_postgres("growth"))
    try:
        options = GrowthOptions(postgres_chats=40, skip_sqlite=True, postgres_url=url, **TINY)
        shown = _check(asyncio.run(run_growth(options)), "postgresql", 40)
    finally:
        asyncio.run(drop_postgres(url))
    assert math.isfinite(shown["idle transactions per minute"])
    assert shown["transactions per relayed message"] > 0


def test_the_command_line_names_both_sizes() -> None:
    options = parse(["--growth", "--chats", "1000"])
    assert (options.postgres_chats, options.sqlite_chats) == (1000, 100)
