"""Generated activities and arbitrary bytes against a real bridge process.

Whatever arrives at ``/api/messages``, the answer is never a 5xx (a channel would
re-deliver the same input forever), the process stays up, and the database keeps
its invariants. The bridge runs as ``python app.py`` on a SQLite file, talking to a
Bot Connector emulator on its own event loop in a thread; hypothesis wants a
synchronous test, so requests go out with ``urllib``. The process and its database
live for the whole module: state piles up across examples (chats opened, accepted,
closed, floods), which is where inconsistencies would show.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from aiohttp import ClientSession, ClientTimeout, web
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from yarl import URL

from app import create_app
from bot.settings import Settings
from tests import activities as act
from tests.conftest import (
    Bridge,
    BridgeFactory,
    Tracebacks,
    open_chat,
    open_chat_body,
    setup_room,
)
from tests.connector_emulator import ConnectorEmulator
from tests.processes import BridgeProcess
from tests.reliability import record
from tests.test_console import ask_for_link, browser, sign_in
from tests.test_front_door import local_conversation
from web import keys
from web.console.auth import COOKIE

EXAMPLES = 200
CUSTOMERS = ["fuzz-cust-1", "fuzz-cust-2", "fuzz-cust-3"]
AGENTS = [act.agent(1, "Supervisor Mai"), act.agent(2, "Minh"), act.agent(3, "Hoa")]


# -- the bridge process and its connector ---------------------------------------------------


@dataclass
class Target:
    """The running bridge, its emulator, and what the examples observed."""

    process: BridgeProcess
    connector: ConnectorEmulator
    database: Path
    threads: list[str]
    sent: int = 0
    server_errors: list[str] = field(default_factory=list, repr=False)

    @property
    def service_url(self) -> str:
        return self.connector.url

    def post(self, body: bytes, content_type: str | None = "application/json") -> tuple[int, bytes]:
        """POST and return (status, body); a refused connection means the process is gone."""
        request = urllib.request.Request(
            f"{self.process.url}/api/messages", data=body, method="POST"
        )
        if content_type is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def post_json(self, activity: dict[str, Any]) -> tuple[int, bytes]:
        return self.post(json.dumps(activity).encode())

    def health(self) -> int:
        try:
            with urllib.request.urlopen(f"{self.process.url}/healthz", timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code


def _run(loop: asyncio.AbstractEventLoop, coroutine: Any, timeout: float = 15.0) -> Any:
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)


def _seed(target: Target, loop: asyncio.AbstractEventLoop) -> None:
    """A room, and chats in each state, so card actions and thread replies hit real rows."""
    supervisor, owner = AGENTS[0], AGENTS[1]
    assert target.post_json(act.room_message(target.service_url, supervisor, "setup"))[0] == 201
    for customer in CUSTOMERS:
        activity = act.webchat_message(target.service_url, customer, f"Hello from {customer}")
        assert target.post_json(activity)[0] == 201
    connector = target.connector
    _run(loop, connector.wait_for(lambda: len(connector.created()) >= len(CUSTOMERS)))
    target.threads.extend(call.conversation_id or "" for call in connector.created())
    refs = [open_chat_body(call)["chat"] for call in connector.created()]
    for ref in refs[:2]:
        data = {"action": "accept", "chat": ref, "v": 1}
        press = act.invoke_action(target.service_url, owner, act.ROOM, "accept", data)
        assert target.post_json(press)[0] == 200
    data = {"action": "close", "chat": refs[1], "v": 2}
    press = act.invoke_action(target.service_url, owner, act.ROOM, "close", data)
    assert target.post_json(press)[0] == 200


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="connector-emulator", daemon=True)
    thread.start()
    connector = ConnectorEmulator()
    _run(loop, connector.start())
    folder = tmp_path_factory.mktemp("fuzz")
    database = folder / "bridge.db"
    process = BridgeProcess(f"sqlite+aiosqlite:///{database}", folder / "bridge.log", **ZALO)
    try:
        asyncio.run(process.start())
        target = Target(process=process, connector=connector, database=database, threads=[])
        _seed(target, loop)
        yield target
    finally:
        process.stop()
        _run(loop, connector.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


# -- strategies -------------------------------------------------------------------------------

NASTY = [
    "",
    " ",
    "\x00",
    "\ud800",
    "\u202eevil",
    "\r\n\t",
    "🙂" * 300,
    "<at>SupportBot</at>",
    "<at>SupportBot</at> setup",
    "<at>SupportBot</at> close",
    "/close",
    "setup",
    "close",
    "'; DROP TABLE chats; --",
    "%s%n{0}{name}",
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "http://127.0.0.1:1/",
    "http://evil.example/",
    "null",
    "Xin chào, tôi cần hỗ trợ 🙏",
]

strings = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.builds(lambda c, n: c * n, st.characters(exclude_categories=["Cs"]), st.integers(0, 5000)),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**63, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    strings,
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(strings, inner, max_size=4),
    max_leaves=12,
)
chat_ids = st.one_of(st.integers(1, 5), scalars)
verbs = st.one_of(st.sampled_from(["accept", "close"]), scalars)


@st.composite
def shaped(draw: st.DrawFn, service_url: str, threads: list[str]) -> dict[str, Any]:
    """One of the shapes the bridge really receives, with plausible, mostly valid values."""
    shape = draw(st.sampled_from(["customer", "room", "execute", "submit", "added"]))
    agent = draw(st.sampled_from(AGENTS))
    thread = draw(st.sampled_from([*threads, act.ROOM, f"{act.ROOM};messageid=404"]))
    if shape == "customer":
        return act.webchat_message(
            service_url,
            draw(st.sampled_from(CUSTOMERS) | strings),
            draw(st.sampled_from(["Hi", "Đơn hàng #123 😀"]) | strings),
            name=draw(st.sampled_from(["Lan", "John"]) | strings),
            locale=draw(st.sampled_from(["vi-VN", "en-US", "fr", ""]) | strings),
            channel=draw(st.sampled_from(["webchat", "directline", "emulator", "msteams"])),
            client_activity_id=draw(st.none() | strings),
        )
    if shape == "room":
        text = draw(st.sampled_from(["setup", "setup Sales", "/close", "close", "Hello"]) | strings)
        return act.room_message(
            service_url,
            agent,
            text,
            thread=draw(st.none() | st.just(thread)),
            mention_bot=draw(st.booleans()),
        )
    if shape in ("execute", "submit"):
        verb = draw(verbs)
        data = {"action": verb, "chat": draw(chat_ids), "v": draw(st.integers(0, 5) | scalars)}
        if shape == "submit":
            return act.room_message(service_url, agent, "", thread=thread, value=data)
        return act.invoke_action(service_url, agent, thread, str(verb), data)
    return act.bot_added(service_url, agent)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key or index in a JSON value, as paths from the root."""
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in items:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


@st.composite
def mutated(draw: st.DrawFn, service_url: str, threads: list[str]) -> dict[str, Any]:
    """A real shape with a few fields removed, retyped or replaced by junk, at any depth."""
    # A deep copy: the builders share dicts (the bot's account) that must not be mutated.
    activity = copy.deepcopy(draw(shaped(service_url, threads)))
    for _ in range(draw(st.integers(0, 3))):
        paths = list(_paths(activity))
        operation = draw(st.sampled_from(["remove", "replace", "add"]))
        if operation == "add" or not paths:
            name = draw(
                st.sampled_from(["value", "channelData", "entities", "attachments", "name"])
                | strings
            )
            activity[name] = draw(junk)
            continue
        *parents, leaf = draw(st.sampled_from(paths))
        node: Any = activity
        for key in parents:
            node = node[key]
        if operation == "remove":
            del node[leaf]
        else:
            node[leaf] = draw(junk)
    return activity


CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json; charset=nope",
    "text/plain",
    None,
]


@st.composite
def requests(draw: st.DrawFn, service_url: str, threads: list[str]) -> tuple[bytes, str | None]:
    """A request body and its Content-Type: mostly activities, then any JSON, then any bytes."""
    kind = draw(st.sampled_from(["shaped", "mutated", "mutated", "mutated", "json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2000)), draw(st.sampled_from(CONTENT_TYPES))
    value = draw(junk) if kind == "json" else draw(mutated(service_url, threads))
    ascii_only = draw(st.booleans())
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    return body, draw(st.sampled_from(CONTENT_TYPES[:2]) | st.sampled_from(CONTENT_TYPES))


# -- the tests --------------------------------------------------------------------------------


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_generated_requests_never_get_a_server_error(target: Target, data: st.DataObject) -> None:
    body, content_type = data.draw(requests(target.service_url, target.threads), label="request")
    status, answer = target.post(body, content_type)
    target.sent += 1
    if status >= 500:
        target.server_errors.append(f"{status} for {body[:300]!r}")
    assert status < 500, f"{status}: {answer[:300]!r}\n{_last_traceback(target.process)}"
    assert target.process.alive, target.process.output()
    if status >= 400:
        # A refusal says why: {"error": ...}, or an invoke answer with its own statusCode.
        reason = json.loads(answer)
        assert isinstance(reason, dict) and ("error" in reason or "statusCode" in reason), answer


def _pending_after(database: Path, seconds: float) -> int:
    """Outbox rows still pending once delivery had time to drain (reported, not asserted:
    a lane the dispatcher cannot deliver is a delivery bug, not an inconsistency)."""
    deadline = time.monotonic() + seconds
    while True:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            (pending,) = db.execute(
                "SELECT count(*) FROM outbox WHERE state = 'pending'"
            ).fetchone()
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(0.1)


def _last_traceback(process: BridgeProcess) -> str:
    """The end of the process log, where the server error's traceback is."""
    log = process.output()
    start = log.rfind("Traceback")
    return log[start:][-2500:] if start >= 0 else log[-1500:]


def inconsistencies(database: Path) -> list[str]:
    """What breaks the bridge's invariants, read straight from the SQLite file."""
    found: list[str] = []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return db.execute(sql).fetchall()

        for (chat,) in rows(
            "SELECT c.id FROM chats c LEFT JOIN customers u ON u.id = c.customer_id"
            " WHERE u.id IS NULL"
        ):
            found.append(f"chat {chat} has no customer")
        for customer, count in rows(
            "SELECT customer_id, count(*) FROM chats WHERE state != 'closed'"
            " GROUP BY customer_id HAVING count(*) > 1"
        ):
            found.append(f"customer {customer} has {count} open chats")
        for message, chat in rows(
            "SELECT m.id, m.chat_id FROM messages m LEFT JOIN chats c ON c.id = m.chat_id"
            " WHERE c.id IS NULL"
        ):
            found.append(f"message {message} belongs to no chat ({chat})")
        for chat, state, owner, accepted, closed in rows(
            "SELECT id, state, owner_id, accepted_at, closed_at FROM chats"
        ):
            if state not in ("waiting", "active", "closed"):
                found.append(f"chat {chat} is in state {state!r}")
            if state == "waiting" and owner is not None:
                found.append(f"waiting chat {chat} has an owner")
            if state == "active" and (owner is None or accepted is None):
                found.append(f"active chat {chat} has no owner or acceptance time")
            if state == "closed" and closed is None:
                found.append(f"closed chat {chat} has no closing time")
        for (participant,) in rows(
            "SELECT p.id FROM participants p LEFT JOIN chats c ON c.id = p.chat_id"
            " LEFT JOIN agents a ON a.id = p.agent_id WHERE c.id IS NULL OR a.id IS NULL"
        ):
            found.append(f"participant {participant} points at no chat or agent")
        chats = {chat for (chat,) in rows("SELECT id FROM chats")}
        for item, lane, kind, payload, state, delivered_at in rows(
            "SELECT id, lane, kind, payload, state, delivered_at FROM outbox"
        ):
            found.extend(
                f"outbox {item}: {problem}"
                for problem in _outbox_problems(lane, kind, payload, state, delivered_at, chats)
            )
    return found


def _outbox_problems(
    lane: str, kind: str, payload: str, state: str, delivered_at: Any, chats: set[int]
) -> list[str]:
    """An outbox row must be deliverable as written: the dispatcher reads these fields."""
    problems = []
    if state not in ("pending", "delivered", "failed"):
        problems.append(f"state {state!r}")
    if state == "delivered" and delivered_at is None:
        problems.append("delivered without a time")
    try:
        body = json.loads(payload)
    except ValueError:
        return [*problems, "payload is not JSON"]
    if not isinstance(body, dict) or not isinstance(body.get("activity"), dict):
        return [*problems, "payload has no activity"]
    if kind in ("create_thread", "update_card") or (kind == "send" and "conversation" not in body):
        chat = body.get("chat_id")
        if chat not in chats:
            problems.append(f"{kind} for chat {chat!r}, which does not exist")
        if lane != f"chat:{chat}":
            problems.append(f"lane {lane!r} is not chat:{chat}")
        if kind == "create_thread" and not isinstance(body.get("room"), dict):
            problems.append("create_thread without a room")
    elif kind == "send":
        reference = body["conversation"]
        conversation = reference.get("conversation") if isinstance(reference, dict) else None
        if not isinstance(conversation, dict) or not isinstance(conversation.get("id"), str):
            problems.append("send without a conversation id")
        elif lane != f"conv:{conversation['id']}":
            problems.append(f"lane {lane!r} is not conv:{conversation['id']}")
        if not isinstance(reference, dict) or not isinstance(reference.get("serviceUrl"), str):
            problems.append("send without a serviceUrl")
    else:
        problems.append(f"unknown kind {kind!r}")
    return problems


def test_after_the_fuzz_the_bridge_is_up_and_the_database_consistent(target: Target) -> None:
    """Runs after the generated requests (same module fixture), whatever they found."""
    if not target.sent:
        pytest.skip("the generated requests were not sent (test deselected)")
    alive = target.process.alive
    health = target.health() if alive else 0
    stuck = _pending_after(target.database, seconds=5.0)
    problems = inconsistencies(target.database)
    errors = len(target.server_errors)
    outcome = ", ".join(
        [
            "no 5xx" if not errors else f"{errors} 5xx answers",
            "process up" if alive and health == 200 else "process down",
            "database consistent" if not problems else f"{len(problems)} inconsistencies",
            *([f"{stuck} outbox rows still pending after 5 s"] if stuck else []),
        ]
    )
    record("fuzz", f"{target.sent} generated activities", "sqlite", outcome)
    assert alive, target.process.output()
    assert health == 200
    assert problems == []


# == every route, in process, on both engines ===================================================
#
# The routes are read from the app's router: a route added later is fuzzed as soon as it
# is named in ROUTES below, and ``test_every_route_is_fuzzed_or_excluded`` fails until it
# is (or is excluded with a reason). Each example is one request to one route, signed in
# as a supervisor where the route is the console's: a JSON body, a form, bytes, a query
# string, headers, path parameters; NUL, lone surrogates, deep nesting, huge numbers and
# days at the calendar's ends among them. Never a 5xx, never a traceback in the log.

# Bounded for CI (10-20 s an engine); FUZZ_ROUTE_EXAMPLES=2000 for a deeper run by hand.
ROUTE_EXAMPLES = int(os.environ.get("FUZZ_ROUTE_EXAMPLES", "1000"))


@dataclass(frozen=True)
class Route:
    """How to fuzz one route: the query parameters and form fields it reads (the
    strategies add others), and the body it takes."""

    query: tuple[str, ...] = ()
    body: str = "none"  # "none", "json" or "form"
    form: tuple[str, ...] = ()


CONSOLE_SEARCH = ("dept", "page", "since", "until", "customer", "agent", "tag", "text")
SETTINGS_FORM = (
    "capacity", "always", "time_zone", "days", "opens", "closes", "required", "name", "do",
    "shortcut", "text", "company", "agent", "tag", "returning",
)  # fmt: skip
# A Zalo OA, so that its webhook is fuzzed too (nothing unsigned reaches its API).
ZALO = {
    "ZALO_APP_ID": "1",
    "ZALO_APP_SECRET": "fuzz-app-secret",
    "ZALO_OA_SECRET_KEY": "fuzz-oa-secret",
    "ZALO_API_URL": "http://127.0.0.1:9",
    "ZALO_OAUTH_URL": "http://127.0.0.1:9",
}

ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/api/messages"): Route(body="json"),
    ("GET", "/api/availability"): Route(("department",)),
    ("GET", "/chat"): Route(("department", "lang", "embed", "invited")),
    ("GET", "/widget.js"): Route(("lang",)),
    ("GET", "/static"): Route(),
    ("POST", "/api/directline/token"): Route(body="json"),
    ("POST", "/api/directline/refresh"): Route(body="json"),
    ("OPTIONS", "/api/directline/token"): Route(),
    ("OPTIONS", "/api/directline/refresh"): Route(),
    ("POST", "/v3/directline/tokens/generate"): Route(body="json"),
    ("POST", "/v3/directline/tokens/refresh"): Route(body="json"),
    ("POST", "/v3/directline/conversations"): Route(("watermark",), body="json"),
    ("GET", "/v3/directline/conversations/{conversation}"): Route(("watermark",)),
    ("GET", "/v3/directline/conversations/{conversation}/activities"): Route(("watermark",)),
    ("POST", "/v3/directline/conversations/{conversation}/activities"): Route(body="json"),
    ("GET", "/v3/directline/conversations/{conversation}/stream"): Route(("watermark", "t")),
    ("POST", "/_local/v3/conversations/{conversation}/activities"): Route(body="json"),
    ("POST", "/_local/v3/conversations/{conversation}/activities/{reply_to}"): Route(body="json"),
    ("PUT", "/_local/v3/conversations/{conversation}/activities/{activity}"): Route(body="json"),
    ("GET", "/_local/v3/conversations/{conversation}/members"): Route(),
    ("GET", "/transcripts/{chat_ref}"): Route(("token", "lang")),
    ("POST", "/v3/directline/conversations/{conversation}/upload"): Route(("userId",), body="json"),
    ("GET", "/v3/directline/attachments/{name}"): Route(),
    ("GET", "/api/offer/{channel}.svg"): Route(),
    ("POST", "/console/signout/{where}"): Route(body="form"),
    ("POST", "/api/zalo"): Route(body="json"),
    ("GET", "/healthz"): Route(),
    ("GET", "/readyz"): Route(),
    ("GET", "/metrics"): Route(),
    ("GET", "/console"): Route(),
    ("GET", "/console/"): Route(),
    ("GET", "/console/static"): Route(),
    ("GET", "/console/signin/{token}"): Route(),
    ("POST", "/console/signin/{token}"): Route(body="form"),
    ("*", "/console/local"): Route(body="form", form=("agent",)),
    ("GET", "/console/live"): Route(("dept", "joined")),
    ("GET", "/console/live/events"): Route(("dept",)),
    ("GET", "/console/history"): Route(CONSOLE_SEARCH),
    ("GET", "/console/history.csv"): Route(CONSOLE_SEARCH),
    ("GET", "/console/chats/{ref}"): Route(("dept",)),
    ("GET", "/console/chats/{ref}/transcript"): Route(("dept",)),
    ("POST", "/console/chats/{ref}/join"): Route(("dept",), body="form", form=("csrf",)),
    ("GET", "/console/reports"): Route(("dept", "since", "until")),
    ("GET", "/console/settings"): Route(("dept", "saved", "error")),
    ("POST", "/console/settings/{what}"): Route(("dept",), body="form", form=SETTINGS_FORM),
    ("POST", "/console/signout"): Route(body="form"),
}
# Routes not fuzzed here, each with the reason.
EXCLUDED: dict[tuple[str, str], str] = {}


# A route that reads more (parameters, form fields, a body) is drawn more often.
WEIGHTED = [
    item
    for item in sorted(ROUTES.items())
    for _ in range(1 + len(item[1].query) + len(item[1].form) + 2 * (item[1].body != "none"))
]


def router_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, canonical path) of every route; HEAD is GET's twin (aiohttp adds it)."""
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


def test_every_route_is_fuzzed_or_excluded() -> None:
    """In local mode (the local Direct Line's routes too) and with an app id."""
    found: set[tuple[str, str]] = set()
    for extra in (
        {},
        {"app_id": "00000000-0000-0000-0000-000000000001", "app_password": "x"},
        {"zalo_app_id": "1", "zalo_app_secret": "s", "zalo_oa_secret": "k"},
    ):
        found |= router_routes(create_app(Settings(database_url="sqlite+aiosqlite://", **extra)))
    named = set(ROUTES) | set(EXCLUDED)
    assert found - named == set(), "new routes: add them to ROUTES (or EXCLUDED, with why)"
    assert named - found == set(), "routes that are gone: remove them from ROUTES"


@dataclass
class Site:
    """A running bridge with something real behind each kind of path parameter."""

    bridge: Bridge
    console: ClientSession
    values: dict[str, list[str]]

    def csrf(self) -> str:
        """The form token of the session now (``/console/local`` may start a new one)."""
        cookie = self.console.cookie_jar.filter_cookies(self.bridge.server.make_url("/console/"))
        session = cookie.get(COOKIE)
        return self.bridge.app[keys.CONSOLE_AUTH].form_token(session.value) if session else ""


@pytest.fixture
async def site(start_bridge: BridgeFactory) -> AsyncIterator[Site]:
    bridge = await start_bridge(token_rate_limit=1_000_000)
    await setup_room(bridge)
    chat = await open_chat(bridge, "fuzz-site", "Xin chào", name="Lan", locale="vi-VN")
    console = browser()
    token = await ask_for_link(bridge, act.agent(1, "Supervisor Mai"))
    assert await sign_in(bridge, console, token) == 302
    opened = await local_conversation(bridge)
    link = bridge.app[keys.LINKS].url(chat.chat_id)
    values = {
        "ref": [chat.chat_id],
        "chat_ref": [chat.chat_id],
        "conversation": [opened["conversationId"]],
        "token": [opened["token"], token],
        "t": [opened["token"]],
        "what": ["capacity", "hours", "tag-required", "tag", "canned", "supervisor"],
        "reply_to": ["x"],
        "activity": ["x"],
        "dept": ["default", ""],
        "department": ["default", "Support"],
        "page": ["1", str(10**20), "-1"],
        "since": ["0001-01-01", "2024-02-29"],
        "until": ["9999-12-31", "0001-01-01"],
        "watermark": ["0", str(10**30), "-5"],
        "lang": ["vi", "en", "xx"],
        "agent": ["1", "2", str(2**31), str(2**63)],
        "capacity": ["0", "5", str(10**20), "-1"],
        "do": ["add", "remove"],
        "days": ["mon", "sun", "x"],
        "opens": ["08:00", "25:00", "8"],
        "closes": ["17:30", "00:00"],
        "time_zone": ["Asia/Ho_Chi_Minh", "Mars/Base", "../etc"],
        "shortcut": ["hi", "a" * 100],
        "name": ["vip", "hóa-đơn"],
        "bearer": [
            f"Bearer {opened['token']}",
            f"Bearer {bridge.app[keys.LOCAL_DIRECT_LINE].secret}",
        ],
        "static": ["webchat.css", "../../app.py", "%2e%2e/app.py"],
    }
    values["transcript_token"] = [URL(link).query.get("token", "")]
    try:
        yield Site(bridge, console, values)
    finally:
        await console.close()


ODD = [
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff\ud800",
    "9999-12-31",
    "0001-01-01",
    "10000-01-01",
    str(10**20),
    str(-(10**20)),
    "1e400",
    "NaN",
    "-0",
    "١٢٣",
    "🙂" * 50,
    "x" * 5000,
    "%00",
    "../..",
    "<script>alert(1)</script>",
    "'; DROP TABLE chats; --",
    "\u202e",
    " ",
    "",
]
texts = st.one_of(st.sampled_from(ODD), st.text(max_size=30), strings)
# Text every check lets through (no NUL, no surrogate), so that most requests get past
# the guard and the handlers' own code runs: one request in three carries the nasty kind.
clean_texts = st.one_of(
    st.sampled_from([t for t in ODD if "\x00" not in t and t.isprintable()]),
    st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=30),
)
HEADER_VALUES = [
    "",
    "http://evil.example",
    "null",
    "Bearer",
    "Bearer x.y.z",
    "Basic Og==",
    "vi-VN,vi;q=0.9,en;q=0.8",
    "*;q=" + "9" * 300,
    "x" * 8000,
    "ü",
]
HEADER_NAMES = ["Origin", "Authorization", "Accept-Language", "Referer", "X-Forwarded-For"]
CONTENT_TYPES_ANY = [
    *[c for c in CONTENT_TYPES if c is not None],
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=klingon",
    "multipart/form-data; boundary=x",
    "multipart/form-data",
]


def _quoted(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@st.composite
def route_requests(draw: st.DrawFn, site: Site) -> dict[str, Any]:
    """One request to one route: method, URL, headers and body."""
    (method, path), route = draw(st.sampled_from(WEIGHTED))
    if method == "*":
        method = draw(st.sampled_from(["GET", "POST"]))
    elif method == "GET" and draw(st.integers(0, 9)) == 0:
        method = "HEAD"
    known = site.values
    texts_ = texts if draw(st.integers(0, 2)) == 0 else clean_texts

    def value_for(name: str) -> str:
        """Mostly a value that gets past the first check (a real reference, a valid
        page), so the handler's later code runs too; else anything."""
        real = name in known and draw(st.integers(0, 2)) > 0
        return draw(st.sampled_from(known[name]) if real else texts_)

    for name in re.findall(r"{(\w+)}", path):
        path = path.replace(f"{{{name}}}", _quoted(value_for(name) or "x"))
    if path in ("/static", "/console/static"):
        path += "/" + _quoted(draw(st.sampled_from(known["static"]) | texts_) or "x")
    named = st.sampled_from(route.query) if route.query and draw(st.integers(0, 3)) else texts_
    names = draw(st.lists(named, max_size=4))
    if path.startswith("/transcripts/"):
        known = {**known, "token": known["transcript_token"]}
    query = [(name, value_for(name)) for name in names]
    query_string = urlencode(query, encoding="utf-8", errors="surrogatepass")
    headers = {
        name: draw(st.sampled_from(HEADER_VALUES))
        for name in draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=2, unique=True))
    }
    if "directline" in path or path.startswith("/v3"):
        headers["Authorization"] = draw(st.sampled_from(known["bearer"] + HEADER_VALUES))
    data: bytes | None = None
    if method in ("POST", "PUT"):
        kind = draw(st.sampled_from([route.body] * 4 + ["json", "form", "bytes", "deep"]))
        if kind == "json":
            message = st.fixed_dictionaries({"type": st.just("message"), "text": texts_})
            value = draw(junk | message)
            data = json.dumps(value, ensure_ascii=draw(st.booleans())).encode(
                "utf-8", "surrogatepass"
            )
            headers["Content-Type"] = "application/json"
        elif kind == "form":
            names = [name for name in route.form if draw(st.booleans())]
            names += draw(st.lists(texts_, max_size=2))
            fields = [(name, value_for(name)) for name in names]
            if draw(st.integers(0, 3)):
                fields.append(("csrf", site.csrf()))
            data = urlencode(fields, encoding="utf-8", errors="surrogatepass").encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif kind == "deep":
            data = deep(draw(st.sampled_from([65, 2_000, 100_000])))
            headers["Content-Type"] = "application/json"
        elif kind == "bytes":
            data = draw(st.binary(max_size=500))
            headers["Content-Type"] = draw(st.sampled_from(CONTENT_TYPES_ANY))
    target = path + (f"?{query_string}" if query_string else "")
    # A request line over 8 KiB is answered 400 by aiohttp's parser before any route (and
    # logged without a traceback: bot/logs.MalformedRequests); its client cannot read a
    # HEAD's answer to it, so such lines are left out here.
    assume(len(target) < 8000)
    return {
        "method": method,
        "url": site.bridge.server.make_url("/").join(URL(target, encoded=True)),
        "headers": headers,
        "data": data,
    }


async def _send(site: Site, request: dict[str, Any]) -> tuple[int, str]:
    """Send as the signed-in supervisor's browser; a stream is read up to its headers."""
    async with site.console.request(
        request["method"],
        request["url"],
        headers=request["headers"],
        data=request["data"],
        allow_redirects=False,
        timeout=ClientTimeout(total=30),
    ) as response:
        if response.content_type == "text/event-stream":
            return response.status, ""
        return response.status, (await response.read())[:300].decode("utf-8", "replace")


@settings(
    max_examples=ROUTE_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
async def test_every_route_answers_any_request_without_a_server_error(
    site: Site, tracebacks: Tracebacks, data: st.DataObject
) -> None:
    request = data.draw(route_requests(site), label="request")
    status, answer = await _send(site, request)
    assert status < 500, f"{status} {request['method']} {request['url']}: {answer}"
    assert tracebacks.records == [], tracebacks.text()
