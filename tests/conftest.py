"""The real app on a real port, a Bot Connector emulator, and SQLite or PostgreSQL.

Every end-to-end test runs on both engines: SQLite in a temporary file, and the
PostgreSQL server named by ``TEST_DATABASE_URL``. Where that is not set or not
reachable, the PostgreSQL run is skipped with the reason printed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis
import pytest
from aiohttp import ClientResponse, ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app import create_app
from bot import keys
from bot.settings import Settings
from store import Store, migrate
from store.core import utc_now
from store.engine import READ_ONLY, create_engine
from store.migrate import drop_schema
from store.models import Chat, DeliveryState, OutboxItem
from tests import activities as act
from tests import reliability
from tests.connector_emulator import ConnectorEmulator

# CI replays the same generated examples (a landing must not hinge on a new random draw);
# local runs keep exploring.
hypothesis.settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")

_pg_problem: dict[str, str | None] = {}


async def _postgres_problem(url: str | None) -> str | None:
    if not url:
        return "TEST_DATABASE_URL is not set"
    if url not in _pg_problem:
        try:
            engine = create_async_engine(url)
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            await engine.dispose()
            _pg_problem[url] = None
        except Exception as error:  # any failure means: not reachable here
            _pg_problem[url] = f"PostgreSQL at TEST_DATABASE_URL is not reachable: {error}"
    return _pg_problem[url]


async def reset_postgres(url: str) -> None:
    """Drop the bridge's tables and the migrations' version table: the app migrates it anew."""
    engine = create_async_engine(url)
    await drop_schema(engine)
    await engine.dispose()


async def scratch_postgres(suffix: str) -> str:
    """A new, empty PostgreSQL database beside TEST_DATABASE_URL's (``<name>_<suffix>``),
    for tests that migrate from nothing or drop the database under a running bridge.
    Skips where PostgreSQL is not reachable."""
    url = os.environ.get("TEST_DATABASE_URL")
    problem = await _postgres_problem(url)
    if problem:
        pytest.skip(problem)
    assert url is not None
    parsed = make_url(url)
    name = f"{parsed.database}_{suffix}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


async def drop_postgres(url: str) -> None:
    """Drop a scratch database, also while a bridge is connected to it (its connections end)."""
    admin = create_async_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        name = make_url(url).database
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/bridge.db"
    url = os.environ.get("TEST_DATABASE_URL")
    problem = await _postgres_problem(url)
    if problem:
        print(f"\nSKIPPED PostgreSQL run: {problem}")
        pytest.skip(problem)
    assert url is not None
    await reset_postgres(url)
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """The store alone on a migrated database of each engine (no bridge around it)."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield Store(engine, serialize_writes=database_url.startswith("sqlite"))
    await engine.dispose()


@pytest.fixture
async def connector() -> AsyncIterator[ConnectorEmulator]:
    emulator = ConnectorEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


@dataclass
class Bridge:
    """One running bridge: its HTTP address, its app, and helpers to talk to it."""

    server: TestServer
    http: ClientSession
    connector: ConnectorEmulator
    settings: Settings
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def app(self) -> Any:
        return self.server.app

    @property
    def service_url(self) -> str:
        return self.connector.url

    async def post(self, activity: dict[str, Any], **kwargs: Any) -> ClientResponse:
        response = await self.http.post(
            str(self.server.make_url("/api/messages")), json=activity, **kwargs
        )
        await response.read()
        return response

    async def get(self, path: str) -> ClientResponse:
        response = await self.http.get(str(self.server.make_url(path)))
        await response.read()
        return response

    async def pending(self) -> int:
        """Pending outbox rows, read as the store's reads are (on SQLite a deferred BEGIN):
        a plain connection there begins IMMEDIATE and takes the write lock, so polling
        every few milliseconds would hold up the bridge's writers (its delivery marks
        among them) in SQLite's busy handler, outside the store's queue of writers."""
        async with self.app[keys.ENGINE].connect() as connection:
            await connection.execution_options(**{READ_ONLY: True})
            return await connection.scalar(
                select(func.count(OutboxItem.id)).where(OutboxItem.state == DeliveryState.PENDING)
            )

    async def outbox(self) -> str:
        """The outbox rows not delivered, and who this replica leases as: what a test that
        waited in vain says, so a wake-up missed under load can be told from a slow send."""
        async with self.app[keys.ENGINE].connect() as connection:
            await connection.execution_options(**{READ_ONLY: True})
            rows = await connection.execute(
                select(
                    OutboxItem.id,
                    OutboxItem.lane,
                    OutboxItem.state,
                    OutboxItem.attempts,
                    OutboxItem.created_at,
                    OutboxItem.next_attempt_at,
                    OutboxItem.lease_owner,
                    OutboxItem.lease_until,
                    OutboxItem.last_error,
                )
                .where(OutboxItem.state != DeliveryState.DELIVERED)
                .order_by(OutboxItem.id)
            )
            lines = [" ".join(str(value) for value in row) for row in rows]
        owner = self.app[keys.DISPATCHER].owner
        return f"replica {owner} at {utc_now()}; rows not delivered:\n" + "\n".join(lines)

    async def settled(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until the outbox has nothing pending (all sends done or given up). The
        default outlasts the dispatcher's idle sweep (``IDLE_SWEEPS`` intervals, 15 s),
        the safety net for a row whose wake-up was missed: this waits for delivery, it
        does not time it (a CI run under load once saw an Accept's rows wait past 10 s)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while await self.pending():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{await self.pending()} outbox items still pending")
            await asyncio.sleep(0.02)


BridgeFactory = Callable[..., Any]


class ManualClock:
    """A clock the test moves: the bridge's timers and waiting times read it. An idle
    dispatcher sleeps in real time until its next row is due by this clock, so a jump
    wakes the dispatchers that read it (as time passing would)."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC)
        self._moved: list[Callable[[], None]] = []

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        for moved in self._moved:
            moved()

    def on_advance(self, moved: Callable[[], None]) -> None:
        self._moved.append(moved)


# Settings a developer's shell may have set; tests of the command line start without them.
SETTING_VARIABLES = tuple(Settings.variables())


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Callable[..., None]:
    """Set only the given settings, in an empty folder (no developer's ``.env``)."""
    monkeypatch.chdir(tmp_path)
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def set_values(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_values


class Tracebacks(logging.Handler):
    """Every record logged with an exception (aiohttp's "Error handling request", a
    handler's ``log.exception``) while a test runs: a request may be refused, but nothing
    it sends may make the bridge fail."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)

    def text(self) -> str:
        return "\n\n".join(self.format(record) for record in self.records)[-4000:]


@pytest.fixture(autouse=True)
def root_logging() -> Iterator[None]:
    """Leave the root logger as the test found it. A command run in the process
    (``bot.cli.main``) sets its own handler, on the stream pytest captured for that test
    and closes after it: every later record would fail to print there."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def tracebacks() -> Iterator[Tracebacks]:
    handler = Tracebacks()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def start_bridge(
    database_url: str, connector: ConnectorEmulator
) -> AsyncIterator[BridgeFactory]:
    """Start a bridge (several may share the database, like replicas)."""
    running: list[tuple[TestServer, ClientSession]] = []

    async def start(clock: Callable[[], datetime] = utc_now, **overrides: Any) -> Bridge:
        settings = Settings(
            database_url=database_url,
            public_url="http://bridge.test",
            db_auto_upgrade=overrides.pop("db_auto_upgrade", True),
            transcript_secret=overrides.pop("transcript_secret", ""),
            **overrides,
        )
        server = TestServer(create_app(settings, clock), host="127.0.0.1")
        await server.start_server()
        if isinstance(clock, ManualClock):
            clock.on_advance(lambda: server.app[keys.DISPATCHER].heard(""))
        http = ClientSession()
        running.append((server, http))
        return Bridge(server=server, http=http, connector=connector, settings=settings)

    yield start
    for server, http in running:
        await http.close()
        await server.close()


@pytest.fixture
async def bridge(start_bridge: BridgeFactory) -> Bridge:
    return await start_bridge()


@dataclass
class Room:
    supervisor: act.Agent


async def setup_room(bridge: Bridge, supervisor: act.Agent | None = None) -> Room:
    supervisor = supervisor or act.agent(1, "Supervisor Mai")
    response = await bridge.post(act.room_message(bridge.service_url, supervisor, "setup"))
    assert response.status == 201
    try:
        await bridge.connector.wait_for(lambda: len(bridge.connector.texts(act.ROOM)) >= 1)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{await bridge.outbox()}") from None
    return Room(supervisor=supervisor)


async def go_online(bridge: Bridge, who: act.Agent, room: str = act.ROOM) -> None:
    """``who`` writes ``@Bot online`` in ``room`` (which also makes them its member)."""
    response = await bridge.post(act.room_message(bridge.service_url, who, "online", room=room))
    assert response.status == 201
    await bridge.settled()


@dataclass
class OpenChat:
    customer: str
    conversation: str
    thread: str
    card_id: str
    chat_id: str  # the chat's public reference, as its card carries it


def open_chat_body(created: Any) -> dict[str, Any]:
    """Thread, card id and chat id from the connector's create call."""
    card = created.body["activity"]["attachments"][0]["content"]
    accept = card["actions"][0]["data"]
    return {
        "thread": created.conversation_id,
        "card_id": created.activity_id,
        "chat": accept["chat"],
    }


async def accept(bridge: Bridge, chat: OpenChat, who: act.Agent) -> None:
    """``who`` presses Accept (``Action.Execute``) on the chat's card and wins it."""
    data = {"action": "accept", "chat": chat.chat_id}
    response = await bridge.post(
        act.invoke_action(bridge.service_url, who, chat.thread, "accept", data)
    )
    assert response.status == 200
    await bridge.settled()


async def accepted_chat(
    bridge: Bridge,
    customer: str,
    text: str,
    owner: act.Agent,
    *,
    supervisor: act.Agent | None = None,
    **kwargs: Any,
) -> OpenChat:
    """Where most relay and close tests start: the room set up (by ``supervisor``), a chat
    opened by ``customer`` (``kwargs`` as for ``open_chat``) and accepted by ``owner``."""
    await setup_room(bridge, supervisor)
    chat = await open_chat(bridge, customer, text, **kwargs)
    await accept(bridge, chat, owner)
    return chat


async def view_of(bridge: Bridge, chat: OpenChat, who: act.Agent) -> dict[str, Any]:
    """``who``'s own view of the chat's card now, as Teams fetches it (refresh invoke over
    HTTP) from the latest card the room holds."""
    sent = bridge.connector.updates(chat.thread, chat.card_id)
    if sent:
        latest = sent[-1]["attachments"][0]["content"]
    else:
        created = next(c for c in bridge.connector.created() if c.conversation_id == chat.thread)
        latest = created.body["activity"]["attachments"][0]["content"]
    response = await bridge.post(act.refresh_invoke(bridge.service_url, who, chat.thread, latest))
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["type"] == "application/vnd.microsoft.card.adaptive", answer
    return answer["value"]


async def open_chat(bridge: Bridge, customer: str, text: str, **kwargs: Any) -> OpenChat:
    before = len(bridge.connector.created())
    response = await bridge.post(act.webchat_message(bridge.service_url, customer, text, **kwargs))
    assert response.status == 201
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) > before)
    found = open_chat_body(bridge.connector.created()[before])
    await bridge.settled()
    return OpenChat(
        customer=customer,
        conversation=f"conv-{customer}",
        thread=found["thread"],
        card_id=found["card_id"],
        chat_id=found["chat"],
    )


async def row_id(bridge: Bridge, ref: str) -> int:
    """The row id of the chat a card's public reference names (what lists display)."""
    async with bridge.app[keys.ENGINE].connect() as connection:
        found = await connection.scalar(select(Chat.id).where(Chat.public_id == ref))
    assert found is not None
    return found


def engine_name(bridge: Bridge) -> str:
    return "postgresql" if bridge.settings.database_url.startswith("postgresql") else "sqlite"


@dataclass(frozen=True)
class Area:
    """One area of the reliability table (``tests/reliability.py``): a test records the
    case it tried and what happened, on the engine of the bridge it ran against."""

    name: str

    def record(
        self, bridge: Bridge, case: str, outcome: str, *, lost: int = 0, twice: int = 0
    ) -> None:
        reliability.record(self.name, case, engine_name(bridge), outcome, lost=lost, twice=twice)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write build/reliability.md from what the tests recorded, only after a green run of
    the whole suite (a run of some files must not shrink the table). Never a tracked file:
    ``python -m tests.reliability --write-docs`` refreshes docs/reliability.md from it."""
    whole_suite = (
        session.config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not session.config.option.keyword
        and not session.config.option.markexpr
    )
    if reliability.ROWS and exitstatus == 0 and whole_suite:
        reliability.write_table(reliability.ROWS)
