"""Growth benchmark: the same traffic on an empty database and on one holding a busy year.

``python -m bench --growth`` (or ``python -m bench.growth``). For each engine it seeds a
year of closed chats with the bridge's own tables (customers, chats, their transcript
lines, seats, tags, ratings, the last day's delivered outbox and the last days' inbound
keys), starts ``python app.py`` on it as a real process, and measures against the
connector emulator:

- a customer's line relayed into its thread (median and p90 of the arrival), alone and
  while a supervisor loads every console page in a loop;
- a new chat to its card in the room, and an Accept's answer;
- each console page (live, history, history by a word and by a customer's name, the CSV
  of a month, reports of a week, a month and a year);
- on PostgreSQL, from ``pg_stat_database``: the transactions of an idle replica per
  minute, and the transactions per relayed message (Teams' pacing on, as by default).

It prints the figures of both sizes and their ratios. Defaults: 200,000 closed chats on
PostgreSQL, 20,000 on SQLite (``--chats`` / ``--sqlite-chats`` make them smaller).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.databases import _connect_args, ensure_database, reset_postgres, sqlite_url
from bench.load import MARKER_PATTERN, marker
from bench.seed import SUPERVISOR, _department
from bench.servers import bridge_server, running
from store import migrate
from store.console_models import Rating
from store.engine import create_engine
from store.models import (
    Agent,
    Chat,
    ChatState,
    ChatTag,
    Customer,
    DeliveryState,
    Department,
    InboundActivity,
    Message,
    MessageKind,
    OutboxItem,
    Participant,
    ParticipantRole,
    Supervisor,
    Tag,
)
from tests import activities as act
from tests.connector_emulator import ConnectorEmulator

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench_growth"
AGENTS = 12
TAGS = ("billing", "refund", "delivery", "account", "bug", "sales", "warranty", "other")
NAMES = ("Lan", "Minh", "Hoa", "Tuan", "Mai", "Binh", "Thu", "Nam", "Linh", "Quang")
PHRASES = (
    "Xin chào, tôi cần hỗ trợ về đơn hàng",
    "Hello, I have a question about my order",
    "Can you check the delivery date please",
    "Tôi muốn đổi địa chỉ giao hàng",
    "The payment did not go through",
    "Please send me the invoice",
    "Cảm ơn bạn rất nhiều",
    "My account is locked",
    "When will the package arrive",
    "Thanks, that solved it",
    "I would like a refund for the broken item",
    "Is the warranty still valid",
)
# The word the history search looks for: in one phrase of twelve.
SEARCH_WORD = "warranty"
BATCH = 2_000
YEAR_DAYS = 365
# The month of the CSV measured alone: the year's last month, at the year's rate.
MONTH_DAYS = 30
# Loads of each page, their median taken: an empty page's few milliseconds move with the
# machine's load, and a ratio with them (three loads gave a word's page 2.3x and 3.4x).
PAGE_REPEATS = 5
# The year's report on its very first load, when it computes and keeps its settled days.
FIRST_YEAR = "report of a year, first load"
CSV_OF_A_MONTH = "csv of a month"


@dataclass(frozen=True)
class GrowthOptions:
    postgres_chats: int = 200_000
    sqlite_chats: int = 20_000
    messages_per_chat: int = 20
    lines: int = 60
    new_chats: int = 10
    idle_seconds: float = 60.0
    # Seconds to let every backend flush its statistics before a count of transactions.
    settle_seconds: float = 12.0
    postgres_url: str = DEFAULT_POSTGRES_URL
    skip_postgres: bool = False
    skip_sqlite: bool = False


@dataclass
class Run:
    engine: str
    chats: int
    seed_seconds: float = 0.0
    relay: list[float] = field(default_factory=list)
    relay_under_console: list[float] = field(default_factory=list)
    new_chat: list[float] = field(default_factory=list)
    accept: list[float] = field(default_factory=list)
    pages: dict[str, float] = field(default_factory=dict)
    idle_per_minute: float | None = None
    per_message: float | None = None
    # Counted by the bridge itself (/metrics), on both engines: not disturbed by what else
    # the database server runs.
    own_idle_per_minute: float | None = None
    own_per_message: float | None = None
    # The CSV of a month on a database holding that month alone (``measure_month_alone``).
    month_alone_csv: float | None = None


# -- seeding ---------------------------------------------------------------------------


def _spread(n: int, count: int, now: datetime, days: int = YEAR_DAYS) -> datetime:
    """The n-th of ``count`` chats, spread evenly over the past ``days`` (a year)."""
    return now - timedelta(days=days) + timedelta(seconds=days * 86400 * n / max(count, 1))


async def _ids(
    connection: AsyncConnection, model: Any, rows: Sequence[dict[str, Any]]
) -> list[int]:
    result = await connection.execute(
        insert(model).returning(model.id, sort_by_parameter_order=True), list(rows)
    )
    return list(result.scalars())


async def _base(connection: AsyncConnection, service_url: str, now: datetime) -> dict[str, Any]:
    """The room (as ``@Bot setup`` binds it), its supervisor, the agents and the tags."""
    department = await _department(connection, service_url, now)
    people = [SUPERVISOR] + [act.agent(100 + n, f"Agent {n}") for n in range(AGENTS)]
    agents = await _ids(
        connection,
        Agent,
        [
            {
                "teams_id": who.id,
                "aad_object_id": who.account["aadObjectId"],
                "name": who.name,
                "created_at": now,
            }
            for who in people
        ],
    )
    await connection.execute(
        insert(Supervisor),
        [{"department_id": department, "agent_id": agents[0], "created_at": now}],
    )
    tags = await _ids(
        connection,
        Tag,
        [{"department_id": department, "name": name, "created_at": now} for name in TAGS],
    )
    return {"department": department, "supervisor": agents[0], "agents": agents[1:], "tags": tags}


def _chat_row(
    n: int, count: int, customer: int, base: dict[str, Any], now: datetime, days: int
) -> dict:
    opened = _spread(n, count, now, days)
    missed = n % 20 == 0
    accepted = None if missed else opened + timedelta(seconds=10 + (n * 37) % 290)
    return {
        "public_id": f"year-{n}",
        "customer_id": customer,
        "department_id": base["department"],
        "state": ChatState.CLOSED,
        "owner_id": None if missed else base["agents"][n % len(base["agents"])],
        "thread_id": f"year-thread-{n}",
        "card_activity_id": f"year-card-{n}",
        "created_at": opened,
        "accepted_at": accepted,
        "first_reply_at": None if accepted is None else accepted + timedelta(seconds=5 + n % 60),
        "closed_at": (accepted or opened) + timedelta(seconds=300 + (n * 7919) % 1500),
        # Closed chats that keep an old announce time: the timer must not walk them.
        "announce_at": opened + timedelta(seconds=120) if n % 3 == 0 else None,
    }


def _lines(chat_id: int, n: int, owner: int | None, opened: datetime, per_chat: int) -> list:
    rows = []
    for k in range(per_chat):
        by_agent = owner is not None and k % 2 == 1
        rows.append(
            {
                "chat_id": chat_id,
                "kind": MessageKind.OUTGOING if by_agent else MessageKind.INCOMING,
                "agent_id": owner if by_agent else None,
                "author": "Agent" if by_agent else NAMES[n % len(NAMES)],
                "text": f"{PHRASES[(n * 7 + k) % len(PHRASES)]} #{n}",
                "created_at": opened + timedelta(seconds=20 * k),
            }
        )
    return rows


async def _postgres_lines(
    connection: AsyncConnection, first: int, last: int, per_chat: int
) -> None:
    """The transcript lines of chats ``first..last`` in one INSERT ... SELECT (PostgreSQL)."""
    phrases = "ARRAY[" + ",".join("'" + p.replace("'", "''") + "'" for p in PHRASES) + "]"
    await connection.execute(
        text(
            "INSERT INTO messages (chat_id, kind, agent_id, author, text, created_at) "
            "SELECT c.id, CASE WHEN c.owner_id IS NOT NULL AND k % 2 = 1 "
            "THEN 'outgoing' ELSE 'incoming' END, "
            "CASE WHEN k % 2 = 1 THEN c.owner_id END, 'seed', "
            f"({phrases})[1 + (c.id * 7 + k) % {len(PHRASES)}] || ' #' || c.id, "
            "c.created_at + k * interval '20 seconds' "
            f"FROM chats c CROSS JOIN generate_series(0, {per_chat - 1}) k "
            "WHERE c.id BETWEEN :first AND :last"
        ),
        {"first": first, "last": last},
    )


async def seed_year(
    database_url: str, service_url: str, chats: int, per_chat: int, days: int = YEAR_DAYS
) -> float:
    """Create the schema and ``chats`` closed chats over the past ``days`` (a year);
    returns the seconds it took."""
    started = time.monotonic()
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        now = datetime.now(UTC)
        postgres = engine.dialect.name == "postgresql"
        async with engine.begin() as connection:
            base = await _base(connection, service_url, now)
            for start in range(0, chats, BATCH):
                numbers = range(start, min(chats, start + BATCH))
                await _seed_batch(
                    connection, numbers, chats, per_chat, base, now, postgres, days
                )
            await _seed_recent(connection, min(chats, 20_000), now)
        async with engine.connect() as connection:
            if postgres:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM ANALYZE"))
            else:
                await connection.execute(text("ANALYZE"))
                await connection.commit()
    finally:
        await engine.dispose()
    return time.monotonic() - started


async def _seed_batch(
    connection: AsyncConnection,
    numbers: range,
    count: int,
    per_chat: int,
    base: dict[str, Any],
    now: datetime,
    postgres: bool,
    days: int,
) -> None:
    # Half the chats are a returning customer's second chat.
    customers = await _ids(
        connection,
        Customer,
        [
            {
                "channel_id": "webchat",
                "user_id": f"year-{n}",
                "name": f"{NAMES[n % len(NAMES)]} Customer{n}",
                "locale": "vi",
                "reference": {"conversation": {"id": f"year-conv-{n}"}},
                "created_at": _spread(n, count, now, days),
            }
            for n in numbers
            if n % 2 == 0
        ],
    )
    rows = [
        _chat_row(n, count, customers[(n - numbers.start) // 2], base, now, days)
        for n in numbers
    ]
    chat_ids = await _ids(connection, Chat, rows)
    if postgres:
        await _postgres_lines(connection, chat_ids[0], chat_ids[-1], per_chat)
    else:
        lines = [
            line
            for n, chat_id, row in zip(numbers, chat_ids, rows, strict=True)
            for line in _lines(chat_id, n, row["owner_id"], row["created_at"], per_chat)
        ]
        await connection.execute(insert(Message), lines)
    seats, tags, ratings = [], [], []
    for n, chat_id, row in zip(numbers, chat_ids, rows, strict=True):
        if row["owner_id"] is not None:
            seats.append(
                {
                    "chat_id": chat_id,
                    "agent_id": row["owner_id"],
                    "role": ParticipantRole.OWNER,
                    "joined_at": row["accepted_at"],
                    "left_at": row["closed_at"],
                }
            )
        if n % 10 < 7:
            tag = base["tags"][n % len(base["tags"])]
            tags.append({"chat_id": chat_id, "tag_id": tag, "created_at": row["closed_at"]})
        if n % 10 < 3:
            ratings.append(
                {"chat_id": chat_id, "score": 1 + n % 5, "created_at": row["closed_at"]}
            )
    for model, added in ((Participant, seats), (ChatTag, tags), (Rating, ratings)):
        if added:
            await connection.execute(insert(model), added)


async def _seed_recent(connection: AsyncConnection, count: int, now: datetime) -> None:
    """The last day's delivered outbox rows and the last days' inbound keys (what the
    purge walks) for ``count`` recent lines."""
    for start in range(0, count, BATCH):
        numbers = range(start, min(count, start + BATCH))
        await connection.execute(
            insert(OutboxItem),
            [
                {
                    "lane": f"chat:{n}",
                    "kind": "send",
                    "payload": {"activity": {"type": "message", "text": "seeded"}},
                    "state": DeliveryState.DELIVERED,
                    "attempts": 1,
                    "next_attempt_at": now - timedelta(seconds=86_000 * n / count),
                    "created_at": now - timedelta(seconds=86_000 * n / count),
                    "delivered_at": now - timedelta(seconds=86_000 * n / count),
                }
                for n in numbers
            ],
        )
        await connection.execute(
            insert(InboundActivity),
            [
                {"key": f"year|{n}", "received_at": now - timedelta(seconds=250_000 * n / count)}
                for n in numbers
            ],
        )


# -- traffic ---------------------------------------------------------------------------


class Traffic:
    """Customers, an agent and a supervisor against one running bridge."""

    def __init__(self, url: str, emulator: ConnectorEmulator, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.emulator = emulator
        self.http = http
        self.agent = act.agent(100, "Agent 0")
        self._runs = 0

    async def post(self, activity: dict[str, Any]) -> tuple[int, float]:
        started = time.monotonic()
        async with self.http.post(self.url + "/api/messages", json=activity) as response:
            await response.read()
            return response.status, time.monotonic() - started

    async def room(self, who: act.Agent, words: str) -> None:
        status, _ = await self.post(act.room_message(self.emulator.url, who, words))
        if status != 201:
            raise RuntimeError(f"@Bot {words} answered {status}")

    async def new_chats(self, count: int) -> tuple[list[float], list[dict[str, Any]]]:
        """``count`` new customers write; the time until each card reached the room."""
        self._runs += 1
        before = len(self.emulator.created())
        sent: dict[str, float] = {}
        for n in range(count):
            mark = marker(90_000 + self._runs, n, 0)
            customer = f"growth-{self._runs}-{n}"
            activity = act.webchat_message(self.emulator.url, customer, f"Hello [{mark}]")
            sent[mark] = time.monotonic()
            status, _ = await self.post(activity)
            if status != 201:
                raise RuntimeError(f"a new chat answered {status}")
        arrivals = await _arrivals(self.emulator, sent)
        await self.emulator.wait_for(lambda: len(self.emulator.created()) >= before + count, 30)
        cards = []
        for created in self.emulator.created()[before:]:
            content = created.body["activity"]["attachments"][0]["content"]
            cards.append({"thread": created.conversation_id, "data": content["actions"][0]["data"]})
        return [arrivals[m] - sent[m] for m in sent if m in arrivals], cards

    async def accept(self, cards: list[dict[str, Any]]) -> list[float]:
        times = []
        for card in cards:
            press = act.invoke_action(
                self.emulator.url, self.agent, card["thread"], "accept", card["data"]
            )
            status, took = await self.post(press)
            if status != 200:
                raise RuntimeError(f"Accept answered {status}")
            times.append(took)
        return times

    async def lines(self, customers: list[str], count: int) -> list[float]:
        """``count`` customer lines spread over the chats, one after the other's arrival."""
        self._runs += 1
        took = []
        for n in range(count):
            mark = marker(95_000 + self._runs, n % len(customers), n)
            customer = customers[n % len(customers)]
            activity = act.webchat_message(self.emulator.url, customer, f"More [{mark}]")
            sent = {mark: time.monotonic()}
            status, _ = await self.post(activity)
            if status != 201:
                raise RuntimeError(f"a customer's line answered {status}")
            arrived = await _arrivals(self.emulator, sent)
            if mark in arrived:
                took.append(arrived[mark] - sent[mark])
        return took


async def _arrivals(emulator: ConnectorEmulator, sent: dict[str, float]) -> dict[str, float]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        known = emulator.arrival_times()
        if all(m in known for m in sent):
            break
        await asyncio.sleep(0.005)
    known = emulator.arrival_times()
    return {m: known[m] for m in sent if m in known}


def console_pages(today: datetime) -> dict[str, str]:
    day = today.date()
    month = (day - timedelta(days=29)).isoformat()
    year = (day - timedelta(days=364)).isoformat()
    return {
        "live": "/console/live",
        "history": "/console/history",
        "history by word": f"/console/history?text={SEARCH_WORD}",
        "history by customer": "/console/history?customer=Customer1234",
        CSV_OF_A_MONTH: f"/console/history.csv?since={month}",
        "report of a week": "/console/reports",
        "report of a month": f"/console/reports?since={month}",
        "report of a year": f"/console/reports?since={year}",
    }


async def sign_in(http: aiohttp.ClientSession, url: str, agent_id: int) -> None:
    """Local mode's sign-in as the seeded supervisor."""
    async with http.post(
        url + "/console/local",
        data={"agent": str(agent_id)},
        headers={"Origin": url},
        allow_redirects=False,
    ) as response:
        await response.read()
        if response.status != 302:
            raise RuntimeError(f"console sign-in answered {response.status}")


async def load_pages(
    http: aiohttp.ClientSession,
    url: str,
    firsts: dict[str, float] | None = None,
    only: str | None = None,
) -> dict[str, float]:
    """Each console page (or ``only`` that one), the median of a few loads, in
    milliseconds (the first load of each into ``firsts``: a year's report keeps its
    settled days on its first load)."""
    timings: dict[str, float] = {}
    for name, path in console_pages(datetime.now(UTC)).items():
        if only is not None and name != only:
            continue
        took = []
        for _ in range(PAGE_REPEATS):
            started = time.monotonic()
            async with http.get(url + path) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{path} answered {response.status}")
            took.append(time.monotonic() - started)
        timings[name] = statistics.median(took) * 1000
        if firsts is not None:
            firsts[name] = took[0] * 1000
    return timings


async def _keep_loading(http: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> None:
    """A supervisor (two tabs) loading every console page until told to stop."""
    while not stop.is_set():
        await asyncio.gather(load_pages(http, url), load_pages(http, url))


def _control_url(database_url: str) -> str:
    url = make_url(database_url)
    return url.set(database=f"{url.database}_control").render_as_string(hide_password=False)


async def _xacts(database_url: str) -> tuple[int, int]:
    """Committed transactions of the bridge's database and of its control database, and
    how many connections the bridge holds (read from another database, so the reading
    is not counted)."""
    url = make_url(database_url)
    control = make_url(_control_url(database_url)).database
    connection = await asyncpg.connect(**_connect_args(url, "postgres"))
    try:
        rows = await connection.fetch(
            "SELECT datname, xact_commit FROM pg_stat_database WHERE datname = ANY($1)",
            [url.database, control],
        )
        held = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", url.database
        )
    finally:
        await connection.close()
    found = {name: int(n) for name, n in rows}
    return found[url.database] - found.get(control, 0), int(held)


async def _drop_control(database_url: str) -> None:
    """Remove the control database the transaction counts used."""
    url = make_url(database_url)
    name = make_url(_control_url(database_url)).database or ""
    connection = await asyncpg.connect(**_connect_args(url, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name.replace(chr(34), "")}"')
    finally:
        await connection.close()


async def _counted(
    database_url: str, work: Callable[[], Awaitable[Any]], settle: float
) -> int:
    """The transactions the bridge committed while ``work`` ran.

    A backend flushes its statistics at most once a second, and an idle one some seconds
    later: the reading waits ``settle`` seconds before each count. And on a shared server
    an idle connection commits empty transactions of its own whenever DDL elsewhere in
    the cluster fills the invalidation queue (a "catch-up"): as many idle connections as
    the bridge holds sit on a control database meanwhile, and what they commit is taken
    off, so the figure is the bridge's own work."""
    control = _control_url(database_url)
    await ensure_database(control)
    _, held = await _xacts(database_url)
    url = make_url(control)
    idle = [
        await asyncpg.connect(**_connect_args(url, url.database or "")) for _ in range(held)
    ]
    try:
        await asyncio.sleep(settle)
        before, _ = await _xacts(database_url)
        await work()
        await asyncio.sleep(settle)
        after, _ = await _xacts(database_url)
    finally:
        for connection in idle:
            await connection.close()
    return after - before


TRANSACTIONS = re.compile(r"^bridge_database_transactions_total (\S+)$", re.MULTILINE)


async def _own(http: aiohttp.ClientSession, url: str) -> int:
    """The transactions the bridge counts itself (``/metrics``), less the scrape's own."""
    async with http.get(url + "/metrics") as response:
        found = TRANSACTIONS.search(await response.text())
    assert found is not None, "no transaction counter in /metrics"
    return int(float(found.group(1)))


async def _own_counted(
    http: aiohttp.ClientSession, url: str, work: Callable[[], Awaitable[Any]]
) -> int:
    before = await _own(http, url)
    await work()
    return await _own(http, url) - before - 1


async def measure(
    engine: str, database_url: str, chats: int, options: GrowthOptions, log_dir: Path
) -> Run:
    emulator = ConnectorEmulator(marker_pattern=MARKER_PATTERN)
    await emulator.start()
    run = Run(engine, chats)
    try:
        run.seed_seconds = await seed_year(
            database_url, emulator.url, chats, options.messages_per_chat
        )
        server = bridge_server(database_url, log_dir, f"growth-{engine}-{chats}")
        jar = aiohttp.CookieJar(unsafe=True)
        async with running(server), aiohttp.ClientSession(cookie_jar=jar) as http:
            traffic = Traffic(server.url, emulator, http)
            await traffic.room(traffic.agent, "online")
            await sign_in(http, server.url, await _supervisor_id(database_url))
            firsts: dict[str, float] = {}
            await load_pages(http, server.url, firsts)  # warm-up
            run.new_chat, cards = await traffic.new_chats(options.new_chats)
            run.accept = await traffic.accept(cards)
            customers = [f"growth-1-{n}" for n in range(options.new_chats)]
            await traffic.lines(customers, 10)  # warm-up
            run.relay = await traffic.lines(customers, options.lines)
            run.pages = await load_pages(http, server.url)
            run.pages[FIRST_YEAR] = firsts["report of a year"]
            stop = asyncio.Event()
            loading = asyncio.create_task(_keep_loading(http, server.url, stop))
            run.relay_under_console = await traffic.lines(customers, options.lines)
            stop.set()
            await loading
            idle_for = options.idle_seconds

            async def relay() -> None:
                await traffic.lines(customers, options.lines)

            idle = await _own_counted(http, server.url, lambda: asyncio.sleep(idle_for))
            run.own_idle_per_minute = idle * 60 / idle_for
            run.own_per_message = await _own_counted(http, server.url, relay) / options.lines
            if engine == "postgresql":
                settle = options.settle_seconds
                idle = await _counted(
                    database_url, lambda: asyncio.sleep(options.idle_seconds), settle
                )
                # The settling before the count's end is idle time too: take it out.
                run.idle_per_minute = idle * 60 / (options.idle_seconds + settle)
                count = options.lines
                relayed = await _counted(
                    database_url, lambda: traffic.lines(customers, count), settle
                )
                per_idle_second = run.idle_per_minute / 60
                run.per_message = max(0.0, relayed - per_idle_second * settle) / count
    finally:
        await emulator.stop()
    return run


async def measure_month_alone(
    engine: str, database_url: str, chats_a_year: int, options: GrowthOptions, log_dir: Path
) -> float:
    """The CSV of a month, in milliseconds, on a database that holds only the last
    ``MONTH_DAYS`` of chats at the year's rate: the same rows as the seeded year's month
    (the export's limit), without the year behind them.

    Why: an empty database's export is its header, so its ratio to a month of 10,000
    rows measures the month's rows, not the year. Against the month alone the ratio says
    what growth costs: whether a year of history slows the month's export."""
    emulator = ConnectorEmulator(marker_pattern=MARKER_PATTERN)
    await emulator.start()
    try:
        chats = round(chats_a_year * MONTH_DAYS / YEAR_DAYS)
        await seed_year(database_url, emulator.url, chats, options.messages_per_chat, MONTH_DAYS)
        server = bridge_server(database_url, log_dir, f"growth-{engine}-month")
        jar = aiohttp.CookieJar(unsafe=True)
        async with running(server), aiohttp.ClientSession(cookie_jar=jar) as http:
            await sign_in(http, server.url, await _supervisor_id(database_url))
            await load_pages(http, server.url)  # warm-up, as the seeded run's
            return (await load_pages(http, server.url, only=CSV_OF_A_MONTH))[CSV_OF_A_MONTH]
    finally:
        await emulator.stop()


async def _supervisor_id(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(
                select(Agent.id).where(Agent.teams_id == SUPERVISOR.id)
            )
            department = await connection.scalar(select(Department.id))
            assert found is not None and department is not None
            return int(found)
    finally:
        await engine.dispose()


# -- the report ------------------------------------------------------------------------


def _ms(values: list[float], q: float = 0.5) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def figures(run: Run) -> dict[str, float]:
    shown = {
        "relay p50 ms": _ms(run.relay),
        "relay p90 ms": _ms(run.relay, 0.9),
        "relay under console p50 ms": _ms(run.relay_under_console),
        "relay under console p90 ms": _ms(run.relay_under_console, 0.9),
        "new chat to card p50 ms": _ms(run.new_chat),
        "accept p50 ms": _ms(run.accept),
    }
    shown.update({f"page {name} ms": value for name, value in run.pages.items()})
    if run.own_idle_per_minute is not None:
        shown["idle transactions per minute (bridge's count)"] = run.own_idle_per_minute
    if run.own_per_message is not None:
        shown["transactions per relayed message (bridge's)"] = run.own_per_message
    if run.idle_per_minute is not None:
        shown["idle transactions per minute"] = run.idle_per_minute
    if run.per_message is not None:
        shown["transactions per relayed message"] = run.per_message
    return shown


def render(pairs: list[tuple[Run, Run]]) -> str:
    out = []
    for empty, seeded in pairs:
        out.append(
            f"\n{empty.engine}: empty vs {seeded.chats:,} closed chats "
            f"(seeded in {seeded.seed_seconds:.0f} s)"
        )
        out.append(f"{'figure':44} {'empty':>10} {'seeded':>10} {'ratio':>7}")
        before, after = figures(empty), figures(seeded)
        for name, value in before.items():
            grown = after.get(name, float("nan"))
            ratio = grown / value if value else float("nan")
            out.append(f"{name:44} {value:10.1f} {grown:10.1f} {ratio:7.2f}")
        if seeded.month_alone_csv is not None:
            name = f"page {CSV_OF_A_MONTH}, the month alone ms"
            year = seeded.pages.get(CSV_OF_A_MONTH, float("nan"))
            out.append(
                f"{name:44} {'':>10} {seeded.month_alone_csv:10.1f} "
                f"{year / seeded.month_alone_csv:7.2f}  (the year's month / the month alone)"
            )
    return "\n".join(out)


async def run_growth(options: GrowthOptions) -> list[tuple[Run, Run]]:
    pairs = []
    with tempfile.TemporaryDirectory(prefix="growth-") as folder:
        log_dir = Path(folder)
        if not options.skip_sqlite:
            runs = []
            for size in (0, options.sqlite_chats):
                url = sqlite_url(folder, f"growth-{size}")
                print(f"sqlite: {size:,} chats ...", flush=True)
                runs.append(await measure("sqlite", url, size, options, log_dir))
            if options.sqlite_chats:
                url = sqlite_url(folder, "growth-month")
                runs[1].month_alone_csv = await measure_month_alone(
                    "sqlite", url, options.sqlite_chats, options, log_dir
                )
            pairs.append((runs[0], runs[1]))
        if not options.skip_postgres:
            await ensure_database(options.postgres_url)
            runs = []
            for size in (0, options.postgres_chats):
                await reset_postgres(options.postgres_url)
                print(f"postgresql: {size:,} chats ...", flush=True)
                url = options.postgres_url
                runs.append(await measure("postgresql", url, size, options, log_dir))
            if options.postgres_chats:
                await reset_postgres(options.postgres_url)
                runs[1].month_alone_csv = await measure_month_alone(
                    "postgresql", options.postgres_url, options.postgres_chats, options, log_dir
                )
            await reset_postgres(options.postgres_url)
            await _drop_control(options.postgres_url)
            pairs.append((runs[0], runs[1]))
    return pairs


def parse(argv: Sequence[str] | None = None) -> GrowthOptions:
    parser = argparse.ArgumentParser(prog="python -m bench --growth", description=__doc__)
    add = parser.add_argument
    add("--growth", action="store_true", help="(this benchmark)")
    add("--chats", type=int, default=200_000, help="closed chats on PostgreSQL")
    add("--sqlite-chats", type=int, default=None, help="closed chats on SQLite (chats / 10)")
    add("--messages-per-chat", type=int, default=20)
    add("--lines", type=int, default=60, help="customer lines measured per phase")
    add("--new-chats", type=int, default=10)
    add("--idle-seconds", type=float, default=60.0)
    add("--postgres-url", default=DEFAULT_POSTGRES_URL)
    add("--skip-postgres", action="store_true")
    add("--skip-sqlite", action="store_true")
    args = parser.parse_args(argv)
    return GrowthOptions(
        postgres_chats=args.chats,
        sqlite_chats=args.sqlite_chats if args.sqlite_chats is not None else args.chats // 10,
        messages_per_chat=args.messages_per_chat,
        lines=args.lines,
        new_chats=args.new_chats,
        idle_seconds=args.idle_seconds,
        postgres_url=args.postgres_url,
        skip_postgres=args.skip_postgres,
        skip_sqlite=args.skip_sqlite,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    pairs = asyncio.run(run_growth(options))
    print(render(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
