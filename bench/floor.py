"""The store's floor: what one customer's line costs in its unit of work, and nothing else.

``python -m bench.floor`` runs the bridge's own intake unit (``do_customer_message`` and
the thread post it queues, one transaction) in this process, with no HTTP, no SDK and no
delivery, and prints the process CPU each unit takes on SQLite and on PostgreSQL. Set
against the echo bot's CPU per message in ``python -m bench`` (same machine), it says how
much of the throughput target the database layer alone leaves to everything else.

It also prints what one trivial statement costs through each engine's driver (process CPU,
the driver's own threads included): on SQLite, SQLAlchemy's ``aiosqlite`` adapter hands
every statement to the driver's thread and back several times, and that, not SQLite, is
most of the difference between the engines.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence

from sqlalchemy import text

from bench.databases import postgres_problem, sqlite_url
from bench.options import DEFAULT_POSTGRES_URL
from store import Store, migrate
from store.engine import create_engine
from store.intake import CustomerTurn, FloodLimit, do_customer_message
from store.migrate import drop_schema
from store.outbox import Outgoing, chat_lane

FLOOD = FloodLimit(messages=1_000, window=10.0)


def _line(customer: int, n: int) -> CustomerTurn:
    user = f"floor-{customer}"
    reference = {"conversation": {"id": f"conv-{user}"}, "serviceUrl": "http://127.0.0.1:1"}
    return CustomerTurn(
        channel_id="webchat",
        user_id=user,
        name=f"Customer {customer}",
        locale="en",
        reference=reference,
        text=f"line {n} of customer {customer}",
        source_key=f"floor:{customer}:{n}",
    )


async def _store_line(store: Store, customer: int, n: int) -> None:
    """One customer's line as the intake stores it: one unit with its thread post."""
    turn = _line(customer, n)
    async for attempt in store.attempts("floor line"):
        async with attempt as tx:
            outcome = await do_customer_message(tx, turn, [turn.source_key or ""], FLOOD)
            chat_id = getattr(outcome, "chat_id", None) or outcome.chat.id  # type: ignore[union-attr]
            payload = {"activity": {"type": "message", "text": turn.text}, "words": "customer"}
            tx.enqueue([Outgoing(chat_lane(chat_id), "send", payload)])


async def measure(database_url: str, customers: int, lines: int) -> float:
    """CPU milliseconds per unit over ``lines`` lines to chats already open."""
    engine = create_engine(database_url)
    try:
        await drop_schema(engine)
        await migrate.upgrade(engine)
        store = Store(engine, serialize_writes=engine.dialect.name == "sqlite")
        for customer in range(customers):
            await _store_line(store, customer, 0)
        for n in range(1, 4):  # warm the statement caches and the pool
            await _store_line(store, n % customers, n)
        started = time.process_time()
        for n in range(lines):
            await _store_line(store, n % customers, 10 + n)
        return (time.process_time() - started) / lines * 1000
    finally:
        await engine.dispose()


async def statement_cost(database_url: str, statements: int) -> float:
    """CPU microseconds per ``SELECT 1`` through the engine, in one open transaction."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            for _ in range(20):
                await connection.execute(text("SELECT 1"))
            started = time.process_time()
            for _ in range(statements):
                await connection.execute(text("SELECT 1"))
            return (time.process_time() - started) / statements * 1_000_000
    finally:
        await engine.dispose()


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--lines", type=int, default=2_000)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        urls = {"sqlite": sqlite_url(folder, "floor")}
        problem = await postgres_problem(args.postgres_url)
        if problem is None:
            urls["postgresql"] = args.postgres_url
        else:
            print(f"postgresql skipped: {problem}")
        for engine, url in urls.items():
            cost = await measure(url, args.customers, args.lines)
            print(f"{engine:>10}: {cost:.2f} ms CPU per customer's line (one unit of work)")
            single = await statement_cost(url, args.lines * 2)
            print(f"{engine:>10}: {single:.0f} µs CPU per statement (SELECT 1, driver and all)")


if __name__ == "__main__":
    asyncio.run(main())
