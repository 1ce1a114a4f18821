"""Operations: /metrics parsed by prometheus-client's own parser and moving with traffic,
/readyz failing when the database goes away or is behind, JSON log lines naming the turn."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, ClientTimeout
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from app import create_app
from bot import keys
from bot.logs import JsonLines
from bot.settings import Settings
from store import migrate
from store.figures import SETTLED_AFTER
from tests import activities as act
from tests.conftest import (
    Bridge,
    BridgeFactory,
    ManualClock,
    OpenChat,
    accept,
    drop_postgres,
    go_online,
    open_chat,
    scratch_postgres,
    setup_room,
)
from tests.connector_emulator import Fault

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(bridge: Bridge) -> Samples:
    """Every sample of /metrics, by name and labels, read with Prometheus' own parser."""
    token = bridge.settings.metrics_token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = str(bridge.server.make_url("/metrics"))
    async with bridge.http.get(url, headers=headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        body = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_move_with_traffic(start_bridge: BridgeFactory, clock: ManualClock) -> None:
    bridge = await start_bridge(clock=clock)
    before = await scrape(bridge)
    assert value(before, "bridge_outbox_pending") == 0
    assert value(before, "bridge_time_to_accept_seconds_count") == 0

    room = await setup_room(bridge)
    await go_online(bridge, room.supervisor)
    chat = await open_chat(bridge, "cust-metrics", "Hello, my order is late")
    clock.advance(40)
    await accept(bridge, chat, room.supervisor)
    clock.advance(5)
    reply = act.room_message(
        bridge.service_url, room.supervisor, "Checking", thread=chat.thread, mention_bot=False
    )
    assert (await bridge.post(reply)).status == 201
    await bridge.settled()
    assert (await bridge.post({"type": "message"})).status == 400

    after = await scrape(bridge)
    moved = value(after, "bridge_activities_total", type="message", outcome="handled")
    assert moved - value(before, "bridge_activities_total", type="message", outcome="handled") >= 4
    assert value(after, "bridge_activities_total", type="invoke", outcome="handled") == 1
    assert value(after, "bridge_activities_total", type="message", outcome="refused") == 1
    assert value(after, "bridge_deliveries_total", outcome="delivered", status="2xx") >= 4
    assert value(after, "bridge_chats", state="active", department="Support") == 1
    # Accepted after 40 s: not within 30 s, within 60 s; first reply after 45 s.
    assert value(after, "bridge_time_to_accept_seconds_count") == 1
    assert value(after, "bridge_time_to_accept_seconds_bucket", le="30.0") == 0
    assert value(after, "bridge_time_to_accept_seconds_bucket", le="60.0") == 1
    assert value(after, "bridge_time_to_first_reply_seconds_sum") == pytest.approx(45, abs=1)


async def test_closed_chats_figures_are_kept_once_across_scrapes(
    start_bridge: BridgeFactory, clock: ManualClock
) -> None:
    """Issue 29: a closed chat's share of /metrics is added up once by the process
    (``SETTLED_AFTER`` after its close) and kept; each scrape reads the open chats and
    those closed since. Scrapes before, across and after that moment give the figures a
    full count gives: nothing counted twice, nothing dropped at the boundary."""
    bridge = await start_bridge(clock=clock)
    room = await setup_room(bridge)
    await go_online(bridge, room.supervisor)

    async def handled(customer: str, wait: float) -> OpenChat:
        chat = await open_chat(bridge, customer, "Hello")
        clock.advance(wait)
        await accept(bridge, chat, room.supervisor)
        return chat

    async def close(chat: OpenChat) -> None:
        line = act.room_message(
            bridge.service_url, room.supervisor, "/close", thread=chat.thread, mention_bot=False
        )
        assert (await bridge.post(line)).status == 201
        await bridge.settled()

    def figures(samples: Samples) -> tuple[float, ...]:
        return (
            value(samples, "bridge_chats", state="closed", department="Support"),
            value(samples, "bridge_chats", state="active", department="Support"),
            value(samples, "bridge_time_to_accept_seconds_count"),
            value(samples, "bridge_time_to_accept_seconds_bucket", le="15.0"),
            value(samples, "bridge_time_to_accept_seconds_sum"),
        )

    first = await handled("cust-kept-1", 40)
    await close(first)
    assert figures(await scrape(bridge)) == pytest.approx((1, 0, 1, 0, 40), abs=0.5)
    clock.advance(SETTLED_AFTER.total_seconds() + 60)  # the first chat is now kept
    assert figures(await scrape(bridge)) == pytest.approx((1, 0, 1, 0, 40), abs=0.5)
    second = await handled("cust-kept-2", 10)
    assert figures(await scrape(bridge)) == pytest.approx((1, 1, 2, 1, 50), abs=0.5)
    await close(second)
    assert figures(await scrape(bridge)) == pytest.approx((2, 0, 2, 1, 50), abs=0.5)
    clock.advance(SETTLED_AFTER.total_seconds() + 60)  # and the second
    for _ in range(2):
        assert figures(await scrape(bridge)) == pytest.approx((2, 0, 2, 1, 50), abs=0.5)


async def test_metrics_count_retries_backlog_and_refused_tokens(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge(retry_base_delay=0.05, retry_max_delay=0.1)
    await setup_room(bridge)
    bridge.connector.add_fault(Fault(status=503, path_contains="/conv-cust-retry/", times=2))
    await bridge.post(act.webchat_message(bridge.service_url, "cust-retry", "Hi"))
    await bridge.settled()
    samples = await scrape(bridge)
    assert value(samples, "bridge_deliveries_total", outcome="retry", status="503") == 2
    assert value(samples, "bridge_delivery_retries_total") >= 2

    # A connector that is down: the backlog and the age of its oldest row grow.
    bridge.connector.add_fault(Fault(status=503, path_contains="/conv-cust-down/", times=1000))
    await bridge.post(act.webchat_message(bridge.service_url, "cust-down", "Anyone?"))
    await asyncio.sleep(0.3)
    samples = await scrape(bridge)
    assert value(samples, "bridge_outbox_pending") >= 1
    assert value(samples, "bridge_outbox_oldest_pending_age_seconds") > 0
    bridge.connector.clear_faults()

    guarded = await start_bridge(
        app_id="0c6a3b2e-1234-4abc-9def-0123456789ab", app_password="secret", metrics_token="m"
    )
    assert (await guarded.post(act.webchat_message(guarded.service_url, "c", "x"))).status == 401
    samples = await scrape(guarded)
    assert value(samples, "bridge_authentication_refused_total") == 1
    # Refused before its body was read: its type is not known.
    assert (
        value(samples, "bridge_activities_total", type="unreadable", outcome="unauthenticated") == 1
    )


async def test_metrics_may_require_a_bearer_token(start_bridge: BridgeFactory) -> None:
    bridge = await start_bridge(metrics_token="scrape-me")
    assert (await bridge.get("/metrics")).status == 401
    url = str(bridge.server.make_url("/metrics"))
    async with bridge.http.get(url, headers={"Authorization": "Bearer wrong"}) as response:
        assert response.status == 401
    async with bridge.http.get(url, headers={"Authorization": "Bearer scrape-me"}) as response:
        assert response.status == 200
        assert "bridge_outbox_pending" in await response.text()


async def test_with_an_app_id_metrics_answer_only_the_bearer_token(
    start_bridge: BridgeFactory,
) -> None:
    """Issue 23 (6): with an app id set, /metrics is never public. Without METRICS_TOKEN it
    is off (403); with it, only ``Authorization: Bearer <token>`` reads it (the bare token,
    another scheme or a wrong token: 401)."""
    app_id = "0c6a3b2e-1234-4abc-9def-0123456789ab"
    off = await start_bridge(app_id=app_id, app_password="not-used-here")
    answer = await off.get("/metrics")
    assert answer.status == 403 and "bridge_" not in await answer.text()
    bridge = await start_bridge(app_id=app_id, app_password="x", metrics_token="scrape-me")
    url = str(bridge.server.make_url("/metrics"))
    for header in ("scrape-me", "Basic scrape-me", "Bearer scrape-m", "Bearerscrape-me", ""):
        async with bridge.http.get(url, headers={"Authorization": header}) as response:
            assert response.status == 401, header
            assert "bridge_" not in await response.text()
    async with bridge.http.get(url, headers={"Authorization": "Bearer scrape-me"}) as response:
        assert response.status == 200
        assert "bridge_outbox_pending" in await response.text()


async def _get(server: TestServer, path: str) -> tuple[int, dict]:
    async with ClientSession() as http, http.get(str(server.make_url(path))) as response:
        return response.status, await response.json(content_type=None)


async def _ready(server: TestServer) -> tuple[int, dict]:
    """/readyz once the delivery loop has swept for the first time (just after start it
    rightly says not ready)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        status, body = await _get(server, "/readyz")
        if status == 200 or asyncio.get_running_loop().time() > deadline:
            return status, body
        await asyncio.sleep(0.05)


async def test_readyz_fails_when_the_postgresql_database_is_dropped() -> None:
    url = await scratch_postgres("ready")
    server = TestServer(create_app(Settings(database_url=url, db_auto_upgrade=True)))
    await server.start_server()
    try:
        status, body = await _ready(server)
        assert status == 200, body
        assert body["checks"] == {"database": "ok", "delivery": "ok"}
        await drop_postgres(url)
        status, body = await _get(server, "/readyz")
        assert status == 503
        assert body["checks"]["database"].startswith("unreachable")
    finally:
        await server.close()


async def test_readyz_fails_when_the_schema_is_behind_or_delivery_stopped(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/ready.db"
    server = TestServer(create_app(Settings(database_url=url, sweep_interval=0.02)))
    await server.start_server()
    try:
        assert (await _ready(server))[0] == 200
        # Another version of the bridge moved the schema on (or back): not ready here.
        async with server.app[keys.ENGINE].begin() as connection:
            await connection.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num='x'"))
        status, body = await _get(server, "/readyz")
        assert status == 503 and "support-bridge db upgrade" in body["checks"]["database"]
        assert (await _get(server, "/healthz"))[0] == 200, "still alive: no restart needed"
        async with server.app[keys.ENGINE].begin() as connection:
            await connection.execute(
                text(f"UPDATE {migrate.VERSION_TABLE} SET version_num=:head"),
                {"head": migrate.head()},
            )
        await server.app[keys.DISPATCHER].close(grace=0)
        await asyncio.sleep(1.2)
        status, body = await _get(server, "/readyz")
        assert status == 503 and body["checks"]["delivery"] != "ok"
    finally:
        await server.close()


async def test_probes_answer_while_a_writer_holds_sqlites_lock(tmp_path: Path) -> None:
    """The probes read as the store's reads do (a deferred BEGIN under WAL): a long write
    elsewhere neither holds up /healthz (which waited for SQLite's 30 s busy timeout) nor
    makes /readyz call the database unreachable (its 3 s limit passed while it waited)."""
    path = tmp_path / "probes.db"
    server = TestServer(
        create_app(Settings(database_url=f"sqlite+aiosqlite:///{path}", sweep_interval=0.02))
    )
    await server.start_server()
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        assert (await _ready(server))[0] == 200
        writer.execute("BEGIN IMMEDIATE")
        async with ClientSession(timeout=ClientTimeout(total=10)) as http:
            async with http.get(str(server.make_url("/healthz"))) as response:
                assert response.status == 200
            async with http.get(str(server.make_url("/readyz"))) as response:
                body = await response.json(content_type=None)
                assert body["checks"]["database"] == "ok", body
    finally:
        writer.rollback()
        writer.close()
        await server.close()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Log lines of the bridge as LOG_FORMAT=json writes them."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


async def test_json_log_lines_name_the_activity_and_the_chat(
    bridge: Bridge, json_lines: io.StringIO
) -> None:
    await setup_room(bridge)
    first = act.webchat_message(bridge.service_url, "cust-logs", "Hello")
    assert (await bridge.post(first)).status == 201
    await bridge.settled()
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    turn = [line for line in lines if line["activity_id"] == first["id"]]
    answered = [line for line in turn if "answered" in line["message"]]
    assert answered, lines
    assert all(isinstance(line["chat_id"], int) for line in answered)
    assert {"time", "level", "logger", "message"} <= answered[0].keys()
