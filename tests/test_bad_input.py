"""Bad input over HTTP against the real app: refused with a reason, nothing kept, still healthy.

A channel gives up on a 4xx and re-delivers on a 5xx, so the status is part of the
contract. Every case checks four things: the status; a JSON body that says why (what
an operator reads in the channel's logs); that nothing was stored or sent that should
not be (all outbound traffic goes through the outbox, so an unchanged database plus
an idle connector emulator means no outbound call); and that a genuine message still
works afterwards. Each case is recorded in the reliability table.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession
from sqlalchemy import func, select
from yarl import URL

from store.models import Agent, Base, Chat, ChatState, Customer
from tests import activities as act
from tests.conftest import (
    Area,
    Bridge,
    BridgeFactory,
    OpenChat,
    Tracebacks,
    accepted_chat,
    open_chat,
    row_id,
    setup_room,
)
from tests.connector_emulator import ConnectorEmulator
from tests.test_console import ask_for_link, browser, sign_in
from tests.test_front_door import local_conversation
from web import keys

BAD_INPUT = Area("bad input")
CARD = "application/vnd.microsoft.card.adaptive"
APP_ID = "00000000-0000-0000-0000-000000000001"
REMOVE = object()  # a mutation value meaning: delete the field


# -- what a turn can leave behind ----------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Row counts of every table, each chat's state and owner, and the emulator's calls."""

    rows: dict[str, int]
    chats: dict[int, tuple[str, str | None]]
    calls: int

    def changed(self, other: Snapshot) -> set[str]:
        """Names of what differs; a test states which changes it expects."""
        names = {t for t in self.rows if self.rows[t] != other.rows.get(t)}
        if self.chats != other.chats:
            names.add("chat states")
        if self.calls != other.calls:
            names.add("connector calls")
        return names


async def snapshot(bridge: Bridge) -> Snapshot:
    """Read after the outbox settles, so a send caused by the request would be counted."""
    await bridge.settled()
    async with bridge.app[keys.ENGINE].connect() as connection:
        rows = {
            table.name: await connection.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
            # Send budgets count connector calls, which the snapshot counts itself.
            if table.name != "pace_budgets"
        }
        result = await connection.execute(
            select(Chat.id, Chat.state, Agent.teams_id)
            .outerjoin(Agent, Agent.id == Chat.owner_id)
            .order_by(Chat.id)
        )
        chats = {row.id: (ChatState(row.state).value, row.teams_id) for row in result}
    return Snapshot(rows=rows, chats=chats, calls=len(bridge.connector.calls))


async def assert_healthy(bridge: Bridge) -> None:
    """A new customer's message is taken and answered: the bad input broke nothing."""
    user = f"healthy-{act.next_id()}"
    response = await bridge.post(
        act.webchat_message(bridge.service_url, user, "Are you still there?", locale="en-US")
    )
    assert response.status == 201, await response.text()
    [answer] = await bridge.connector.wait_for_texts(f"conv-{user}", 1)
    # Thanks, or (once a second department was set up) the question which one.
    assert answer.startswith(("Thank you", "Which department"))


async def refusal(response: ClientResponse) -> str:
    """The reason of a refused request; it must be JSON ``{"error": "..."}``."""
    assert response.content_type == "application/json", await response.text()
    body = await response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], body
    return body["error"]


async def post_raw(
    bridge: Bridge,
    data: bytes | AsyncIterator[bytes],
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> ClientResponse:
    """POST bytes as they are (the helper on Bridge always sends valid JSON)."""
    sent = dict(headers or {})
    skip: tuple[str, ...] = ()
    if content_type is None:
        skip = ("Content-Type",)
    else:
        sent["Content-Type"] = content_type
    response = await bridge.http.post(
        str(bridge.server.make_url("/api/messages")),
        data=data,
        headers=sent,
        skip_auto_headers=skip,
    )
    await response.read()
    return response


# -- malformed requests: the table ---------------------------------------------------------


def customer_activity(service_url: str) -> dict[str, Any]:
    return act.webchat_message(service_url, "cust-bad", "Hello", locale="en-US")


def mutated(value_or_changes: dict[str, Any]) -> Callable[[str], bytes]:
    """A valid customer message with fields set (dotted paths) or removed (``REMOVE``)."""

    def build(service_url: str) -> bytes:
        activity = customer_activity(service_url)
        for path, value in value_or_changes.items():
            *parents, leaf = path.split(".")
            node = activity
            for name in parents:
                node = node[name]
            if value is REMOVE:
                node.pop(leaf, None)
            else:
                node[leaf] = value
        return json.dumps(activity).encode()

    return build


def as_json(value: Any) -> Callable[[str], bytes]:
    return lambda service_url: json.dumps(value).encode()


def raw(data: bytes) -> Callable[[str], bytes]:
    return lambda service_url: data


def with_bytes(old: bytes, new: bytes) -> Callable[[str], bytes]:
    """A valid activity with one spot replaced at the byte level (what json.dumps won't emit)."""

    def build(service_url: str) -> bytes:
        activity = {**customer_activity(service_url), "value": "@@"}
        return json.dumps(activity).encode().replace(old, new)

    return build


def wrapped(service_url: str) -> bytes:
    return json.dumps([customer_activity(service_url)]).encode()


def invoke_named(name: Any) -> Callable[[str], bytes]:
    def build(service_url: str) -> bytes:
        data = {"action": "accept", "chat": 1, "v": 1}
        activity = act.invoke_action(service_url, act.agent(2), act.ROOM, "accept", data)
        if name is REMOVE:
            activity.pop("name")
        else:
            activity["name"] = name
        return json.dumps(activity).encode()

    return build


@dataclass(frozen=True)
class Bad:
    case: str
    body: Callable[[str], bytes]
    status: int
    reason: str
    content_type: str | None = "application/json"


BAD = [
    Bad("malformed JSON: unterminated", raw(b'{"type": "message"'), 400, "not valid JSON"),
    Bad("malformed JSON: single quotes", raw(b"{'type': 'message'}"), 400, "not valid JSON"),
    Bad("malformed JSON: trailing comma", raw(b'{"type": "message",}'), 400, "not valid JSON"),
    Bad("malformed JSON: plain words", raw(b"hello bot"), 400, "not valid JSON"),
    Bad("empty body", raw(b""), 400, "not valid JSON"),
    Bad("invalid UTF-8", raw(b'{"type": "\xff\xfe"}'), 400, "not valid JSON"),
    Bad("NaN is not JSON", with_bytes(b'"@@"', b"NaN"), 400, "not valid JSON"),
    Bad("Infinity is not JSON", with_bytes(b'"@@"', b"-Infinity"), 400, "not valid JSON"),
    Bad("nested 50000 deep", raw(b"[" * 50_000 + b"]" * 50_000), 400, "nested too deeply"),
    Bad("lone surrogate in text", with_bytes(b'"@@"', b'"\\ud800"'), 400, "not valid Unicode"),
    Bad("NUL in text", mutated({"text": "a\x00b"}), 400, "NUL character"),
    Bad("NUL in a key", as_json({"type": "message", "a\x00": 1}), 400, "NUL character"),
    Bad("body is a list", wrapped, 400, "JSON object"),
    Bad("body is a string", as_json("message"), 400, "JSON object"),
    Bad("body is a number", as_json(42), 400, "JSON object"),
    Bad("body is null", as_json(None), 400, "JSON object"),
    Bad("missing type", mutated({"type": REMOVE}), 400, "'type' is missing"),
    Bad("type is a number", mutated({"type": 7}), 400, "'type' must be a string"),
    Bad("unknown activity type", mutated({"type": "chat"}), 400, "unknown activity type"),
    Bad("missing from", mutated({"from": REMOVE}), 400, "'from' is missing"),
    Bad("from is a string", mutated({"from": "cust-bad"}), 400, "'from' must be an object"),
    Bad("missing from.id", mutated({"from.id": REMOVE}), 400, "'from.id' is missing"),
    Bad("from.id is a number", mutated({"from.id": 5}), 400, "'from.id' must be a string"),
    Bad("missing conversation", mutated({"conversation": REMOVE}), 400, "'conversation' is"),
    Bad("missing conversation.id", mutated({"conversation.id": ""}), 400, "'conversation.id'"),
    # A missing recipient is accepted in local mode (local tools leave it out): see
    # test_front_door. One that is not an account is still refused.
    Bad("recipient is a string", mutated({"recipient": "bot"}), 400, "must be an object"),
    Bad("missing serviceUrl", mutated({"serviceUrl": REMOVE}), 400, "'serviceUrl' is missing"),
    Bad("serviceUrl is a number", mutated({"serviceUrl": 80}), 400, "must be a string"),
    Bad("serviceUrl ftp", mutated({"serviceUrl": "ftp://127.0.0.1/"}), 400, "http(s)"),
    Bad("serviceUrl file", mutated({"serviceUrl": "file:///etc/passwd"}), 400, "http(s)"),
    Bad("serviceUrl not a URL", mutated({"serviceUrl": "not a url"}), 400, "http(s)"),
    Bad(
        "serviceUrl backslash in host",
        mutated({"serviceUrl": "http://evil.example\\@127.0.0.1:1/"}),
        400,
        "not a valid URL",
    ),
    Bad(
        "serviceUrl port out of range",
        mutated({"serviceUrl": "http://127.0.0.1:99999/"}),
        400,
        "not a valid URL",
    ),
    Bad("text is a number", mutated({"text": 12345}), 400, "'text' must be a string"),
    Bad("entities is a dict", mutated({"entities": {}}), 400, "'entities' must be a list"),
    Bad("attachments is a string", mutated({"attachments": "x"}), 400, "'attachments' must"),
    Bad("channelData is a list", mutated({"channelData": []}), 400, "'channelData' must be"),
    Bad("locale is a number", mutated({"locale": 1066}), 400, "'locale' must be a string"),
    Bad("invoke without a name", invoke_named(REMOVE), 400, "not supported"),
    Bad("invoke task/fetch", invoke_named("task/fetch"), 400, "not supported"),
    Bad("invoke name is a number", invoke_named(3), 400, "'name' must be a string"),
    Bad("no Content-Type", mutated({}), 415, "application/json", content_type=None),
    Bad("text/plain", mutated({}), 415, "application/json", content_type="text/plain"),
    Bad(
        "form-urlencoded",
        raw(b"type=message"),
        415,
        "application/json",
        content_type="application/x-www-form-urlencoded",
    ),
    Bad(
        "unknown charset",
        mutated({}),
        415,
        "unknown charset",
        content_type="application/json; charset=klingon",
    ),
]


@pytest.mark.parametrize("bad", BAD, ids=lambda bad: bad.case)
async def test_malformed_request_is_refused_with_its_reason(bridge: Bridge, bad: Bad) -> None:
    before = await snapshot(bridge)
    response = await post_raw(bridge, bad.body(bridge.service_url), bad.content_type)
    error = await refusal(response)
    BAD_INPUT.record(bridge, bad.case, f"{response.status}: {error}")
    assert response.status == bad.status, error
    assert bad.reason in error
    assert not before.changed(await snapshot(bridge))
    await assert_healthy(bridge)


async def test_wrong_method_is_refused(bridge: Bridge) -> None:
    """A GET (a browser, a health probe pointed at the wrong path) is 405 and changes nothing."""
    before = await snapshot(bridge)
    response = await bridge.get("/api/messages")
    BAD_INPUT.record(bridge, "GET /api/messages", f"{response.status}")
    assert response.status == 405
    assert not before.changed(await snapshot(bridge))
    await assert_healthy(bridge)


# -- size -----------------------------------------------------------------------------------


async def _in_chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 64 * 1024):
        yield data[start : start + 64 * 1024]


@pytest.mark.parametrize("framing", ["Content-Length", "chunked"])
async def test_huge_body_is_refused(bridge: Bridge, framing: str) -> None:
    """Over 256 KiB is 413 whether the size is announced or only found while reading."""
    limit = bridge.settings.max_body_bytes
    activity = act.webchat_message(bridge.service_url, "cust-huge", "x" * (limit + 1))
    data = json.dumps(activity).encode()
    before = await snapshot(bridge)
    response = await post_raw(bridge, data if framing == "Content-Length" else _in_chunks(data))
    error = await refusal(response)
    BAD_INPUT.record(bridge, f"huge body ({framing})", f"{response.status}: {error}")
    assert response.status == 413
    assert "too large" in error
    assert not before.changed(await snapshot(bridge))
    await assert_healthy(bridge)


# -- who the bot may call: the local-mode allow-list ----------------------------------------


@pytest.fixture
async def trap() -> AsyncIterator[ConnectorEmulator]:
    """A listening connector on 127.0.0.2, a host that is not allowed: it must get nothing."""
    emulator = ConnectorEmulator()
    await emulator.start(host="127.0.0.2")
    yield emulator
    await emulator.stop()


@pytest.mark.parametrize(
    "where",
    ["http://evil.example:1/", "trap", "http://localhost@evil.example:1/", "http://[::2]:1/"],
)
async def test_service_url_host_outside_the_allow_list_is_forbidden(
    bridge: Bridge, trap: ConnectorEmulator, where: str
) -> None:
    service_url = trap.url if where == "trap" else where
    before = await snapshot(bridge)
    response = await bridge.post(act.webchat_message(service_url, "cust-ssrf", "Hello"))
    error = await refusal(response)
    BAD_INPUT.record(
        bridge,
        f"serviceUrl host not allowed ({where})",
        f"{response.status}: {error}; no outbound call",
    )
    assert response.status == 403
    assert "not allowed" in error
    assert not before.changed(await snapshot(bridge))
    assert trap.calls == []
    await assert_healthy(bridge)
    assert trap.calls == []


# -- text over the limit ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "words"), [("vi-VN", "quá dài"), ("en-US", "too long")], ids=["vi", "en"]
)
async def test_text_over_the_limit_gets_a_polite_answer_and_opens_nothing(
    bridge: Bridge, locale: str, words: str
) -> None:
    await setup_room(bridge)
    limit = bridge.app[keys.BRIDGE].ctx.max_text_length
    before = await snapshot(bridge)
    room_before = len(bridge.connector.activities(act.ROOM))
    response = await bridge.post(
        act.webchat_message(bridge.service_url, "cust-long", "ồ" * (limit + 1), locale=locale)
    )
    assert response.status == 201
    [notice] = await bridge.connector.wait_for_texts("conv-cust-long", 1)
    after = await snapshot(bridge)
    BAD_INPUT.record(
        bridge,
        f"text over {limit} characters ({locale})",
        "201, polite notice in the customer's language, no chat, nothing to agents",
    )
    assert words in notice and str(limit + 1) in notice and str(limit) in notice
    # Only the notice (its outbox row and its dedupe key) was kept: no customer, no chat.
    assert before.changed(after) == {"outbox", "inbound_activities", "connector calls"}
    assert after.rows["outbox"] == before.rows["outbox"] + 1
    assert bridge.connector.created() == []
    assert len(bridge.connector.activities(act.ROOM)) == room_before
    # Exactly at the limit is a normal message: it opens a chat.
    chat = await open_chat(bridge, "cust-long", "ồ" * limit, locale=locale)
    assert (await snapshot(bridge)).chats == {await row_id(bridge, chat.chat_id): ("waiting", None)}


# -- card actions with tampered or stale data -----------------------------------------------


def invoke(bridge: Bridge, who: act.Agent, thread: str, data: Any) -> dict[str, Any]:
    """An Action.Execute press whose data is taken as given (possibly not an object)."""
    verb = data.get("action") if isinstance(data, dict) else "accept"
    activity = act.invoke_action(bridge.service_url, who, thread, str(verb), {})
    activity["value"]["action"]["data"] = data
    return activity


def submit(bridge: Bridge, who: act.Agent, thread: str, data: Any) -> dict[str, Any]:
    """An Action.Submit press: the data is the message's value."""
    return act.room_message(bridge.service_url, who, "", thread=thread, value=data)


async def press(
    bridge: Bridge, how: str, who: act.Agent, chat: OpenChat, data: Any
) -> tuple[ClientResponse, Snapshot]:
    """``who`` presses a button of the chat's card, as Action.Execute (``how`` is "invoke")
    or as Action.Submit; the answer, and what the database and connector hold after it."""
    build = invoke if how == "invoke" else submit
    response = await bridge.post(build(bridge, who, chat.thread, data))
    return response, await snapshot(bridge)


def card_text(node: Any) -> str:
    if isinstance(node, dict):
        return "\n".join(card_text(v) for v in node.values())
    if isinstance(node, list):
        return "\n".join(card_text(v) for v in node)
    return node if isinstance(node, str) else ""


@pytest.mark.parametrize("how", ["invoke", "submit"])
async def test_accept_for_a_chat_that_does_not_exist(bridge: Bridge, how: str) -> None:
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-ghost", "Hi", locale="en-US")
    before = await snapshot(bridge)
    ghost = {"action": "accept", "chat": chat.chat_id[::-1], "v": 1}
    minh = act.agent(2, "Minh")
    response, after = await press(bridge, how, minh, chat, ghost)
    BAD_INPUT.record(
        bridge,
        f"Accept for a chat that does not exist ({how})",
        f"{response.status}, no chat changed, nothing sent",
    )
    told = bridge.connector.calls[before.calls :]
    if how == "invoke":
        answer = await response.json()
        # The same neutral refusal as for another room's chat: a press cannot probe.
        assert response.status == 403
        assert answer["statusCode"] == 403 and answer["value"]["code"] == "Forbidden"
        # The answer is on the card itself: nothing else is sent.
        assert before.changed(after) <= set()
    else:
        assert response.status == 201
        # At most a notice to the presser, where they pressed; no chat, customer or message.
        assert before.changed(after) <= {
            "agents",
            "outbox",
            "inbound_activities",
            "connector calls",
        }
        for call in told:
            assert call.conversation_id == chat.thread
            assert call.body and call.body["entities"][0]["mentioned"]["id"] == minh.id
    # The presser becomes a known agent; no chat changes and the customer is told nothing.
    assert after.chats == {await row_id(bridge, chat.chat_id): ("waiting", None)}
    assert all(call.conversation_id != chat.conversation for call in told)
    await assert_healthy(bridge)


TAMPERED: list[tuple[str, Callable[[str], Any]]] = [
    ("chat id a row number", lambda chat: {"action": "accept", "chat": 1, "v": 1}),
    ("chat id a float", lambda chat: {"action": "accept", "chat": 1.5, "v": 1}),
    ("chat id true", lambda chat: {"action": "accept", "chat": True, "v": 1}),
    ("chat id too short", lambda chat: {"action": "accept", "chat": chat[:8], "v": 1}),
    ("chat id with a path", lambda chat: {"action": "accept", "chat": chat + "/../1", "v": 1}),
    ("chat id missing", lambda chat: {"action": "accept", "v": 1}),
    ("unknown verb", lambda chat: {"action": "delete", "chat": chat, "v": 1}),
    ("data not an object", lambda chat: f"accept {chat}"),
]


@pytest.mark.parametrize(("case", "data"), TAMPERED, ids=[case for case, _ in TAMPERED])
async def test_tampered_action_data_is_a_bad_request(
    bridge: Bridge, case: str, data: Callable[[str], Any]
) -> None:
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-tamper", "Hi", locale="en-US")
    before = await snapshot(bridge)
    response = await bridge.post(invoke(bridge, act.agent(2), chat.thread, data(chat.chat_id)))
    answer = await response.json()
    BAD_INPUT.record(bridge, f"Execute with {case}", f"{response.status}, nothing changed")
    assert response.status == 400, answer
    assert answer["statusCode"] == 400 and answer["value"]["code"] == "BadRequest"
    assert answer["value"]["message"]
    assert not before.changed(await snapshot(bridge))
    # The same data pressed as Action.Submit is ignored: 201 and nothing changes.
    response = await bridge.post(submit(bridge, act.agent(2), chat.thread, data(chat.chat_id)))
    assert response.status == 201
    assert not before.changed(await snapshot(bridge))
    await assert_healthy(bridge)


async def test_invoke_whose_value_is_not_a_card_action(bridge: Bridge) -> None:
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-noval", "Hi", locale="en-US")
    before = await snapshot(bridge)
    activity = invoke(bridge, act.agent(2), chat.thread, {})
    activity["value"] = {"action": "accept"}
    response = await bridge.post(activity)
    answer = await response.json()
    BAD_INPUT.record(bridge, "Execute whose value has no action object", "400")
    assert response.status == 400 and answer["statusCode"] == 400
    assert not before.changed(await snapshot(bridge))
    await assert_healthy(bridge)


async def closed_chat(bridge: Bridge, owner: act.Agent) -> OpenChat:
    chat = await accepted_chat(bridge, "cust-closed", "Hi", owner, locale="en-US")
    close = {"action": "close", "chat": chat.chat_id}
    response = await bridge.post(invoke(bridge, owner, chat.thread, close))
    assert response.status == 200
    await bridge.settled()
    return chat


@pytest.mark.parametrize("how", ["invoke", "submit"])
async def test_accept_on_a_closed_chat(bridge: Bridge, how: str) -> None:
    owner, late = act.agent(8, "Quang"), act.agent(9, "Late Lan")
    chat = await closed_chat(bridge, owner)
    customer_before = len(bridge.connector.activities(chat.conversation))
    before = await snapshot(bridge)
    stale = {"action": "accept", "chat": chat.chat_id}
    response, after = await press(bridge, how, late, chat, stale)
    BAD_INPUT.record(
        bridge,
        f"Accept on a closed chat ({how})",
        f"{response.status}, chat stays closed, customer told nothing",
    )
    if how == "invoke":
        answer = await response.json()
        assert response.status == 200 and answer["type"] == CARD
        card = answer["value"]
        assert "\nClosed · " in card_text(card)
        assert [a["type"] for a in card.get("actions", [])] == ["Action.OpenUrl"]
        assert before.changed(after) <= {"agents"}
    else:
        assert response.status == 201
        notice = bridge.connector.activities(chat.thread)[-1]
        assert notice["entities"][0]["mentioned"]["id"] == late.id
        assert "already closed" in notice["text"]
    assert after.chats == {await row_id(bridge, chat.chat_id): ("closed", owner.id)}
    assert len(bridge.connector.activities(chat.conversation)) == customer_before
    await assert_healthy(bridge)


@pytest.mark.parametrize("how", ["invoke", "submit", "/close"])
async def test_close_by_someone_who_is_neither_owner_nor_supervisor(
    bridge: Bridge, how: str
) -> None:
    owner, stranger = act.agent(10, "Nga"), act.agent(11, "Phong")
    chat = await accepted_chat(bridge, "cust-keep", "Hi", owner, locale="en-US")
    customer_before = len(bridge.connector.activities(chat.conversation))
    close = {"action": "close", "chat": chat.chat_id}
    if how == "invoke":
        activity = invoke(bridge, stranger, chat.thread, close)
    elif how == "submit":
        activity = submit(bridge, stranger, chat.thread, close)
    else:
        activity = act.reply(bridge.service_url, stranger, chat.thread, "/close")
    response = await bridge.post(activity)
    await bridge.settled()
    after = await snapshot(bridge)
    BAD_INPUT.record(
        bridge, f"Close by a stranger ({how})", f"{response.status}, refused, chat stays active"
    )
    refused = "only the chat's owner or a supervisor"
    if how == "invoke":
        answer = await response.json()
        assert response.status == 200
        assert refused in card_text(answer["value"])
        # The stranger's own view: no Close they could not use.
        assert "close" not in [a.get("verb") for a in answer["value"].get("actions", [])]
    else:
        assert response.status == 201
        notice = bridge.connector.activities(chat.thread)[-1]
        assert notice["entities"][0]["mentioned"]["id"] == stranger.id
        assert refused in notice["text"]
    assert after.chats == {await row_id(bridge, chat.chat_id): ("active", owner.id)}
    assert len(bridge.connector.activities(chat.conversation)) == customer_before
    await assert_healthy(bridge)


# -- authentication ---------------------------------------------------------------------------


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _token(header: dict[str, Any], signature: str = "") -> str:
    """A well-formed JWT with the claims a channel token carries, signed by nobody."""
    now = int(time.time())
    claims = {
        "iss": "https://api.botframework.com",
        "aud": APP_ID,
        "serviceurl": "http://127.0.0.1/",
        "nbf": now - 60,
        "exp": now + 3600,
    }
    return f"{_b64(header)}.{_b64(claims)}.{signature}"


AUTHORIZATION = {
    "none": None,
    "Bearer": "Bearer",
    "Basic abc": "Basic abc",
    "Bearer not.a.jwt": "Bearer not.a.jwt",
    "unsigned JWT (alg none)": "Bearer " + _token({"alg": "none", "typ": "JWT"}),
    "JWT with a forged RS256 signature": "Bearer "
    + _token({"alg": "RS256", "typ": "JWT", "kid": "forged"}, "c2lnbmF0dXJl"),
}


@pytest.mark.parametrize("case", list(AUTHORIZATION))
async def test_bot_with_an_app_id_refuses_requests_without_a_valid_token(
    start_bridge: BridgeFactory, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    bridge = await start_bridge(app_id=APP_ID, app_password="secret")
    header = AUTHORIZATION[case]
    before = await snapshot(bridge)
    started = time.monotonic()
    response = await bridge.post(
        act.webchat_message(bridge.service_url, "cust-auth", "Hello"),
        headers={"Authorization": header} if header is not None else {},
    )
    took = time.monotonic() - started
    error = await refusal(response)
    # The SDK fetches login.botframework.com's signing keys for a token it cannot rule out
    # by its shape (synchronously, without a time-out); the log says whether it tried.
    tried_network = "login.botframework.com" in caplog.text
    BAD_INPUT.record(
        bridge,
        f"Authorization: {case}",
        f"{response.status} in {took * 1000:.0f} ms"
        + ("; the SDK tried login.botframework.com" if tried_network else "")
        + "; nothing stored or sent",
    )
    assert response.status == 401, error
    assert "token" in error
    assert took < 5.0, f"401 took {took:.1f}s (network tried: {tried_network})"
    assert not before.changed(await snapshot(bridge))
    assert (await bridge.get("/healthz")).status == 200


# -- junk that passes validation: known 5xx, outside app.py ----------------------------------


@dataclass(frozen=True)
class Junk:
    """An activity of a valid shape with junk deeper inside."""

    case: str
    build: Callable[[str], dict[str, Any]]


def _room(service_url: str, **changes: Any) -> dict[str, Any]:
    return {**act.room_message(service_url, act.agent(3), "setup"), **changes}


def _with_channel_data(activity: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**activity, "channelData": {**activity.get("channelData", {}), **changes}}


def _execute(chat: Any, verb: Any = "accept") -> Callable[[str], dict[str, Any]]:
    def build(service_url: str) -> dict[str, Any]:
        activity = act.invoke_action(service_url, act.agent(3), act.ROOM, "accept", {})
        activity["value"]["action"]["data"] = {"action": verb, "chat": chat, "v": 1}
        return activity

    return build


JUNK = [
    Junk(
        "channelData.tenant a string",
        lambda url: _with_channel_data(customer_activity(url), tenant="t-1"),
    ),
    Junk(
        "channelData.channel a string (room)",
        lambda url: _with_channel_data(_room(url), channel=act.ROOM),
    ),
    Junk(
        "channelData.team a string (room)",
        lambda url: _with_channel_data(_room(url), team=act.TEAM),
    ),
    Junk(
        "mention entity whose mentioned is a string",
        lambda url: _room(url, entities=[{"type": "mention", "mentioned": "bot", "text": "x"}]),
    ),
    Junk(
        "conversation.isGroup a string",
        lambda url: {**customer_activity(url), "conversation": {"id": "c-1", "isGroup": "yes"}},
    ),
    Junk(
        "timestamp not a date",
        lambda url: {**customer_activity(url), "timestamp": "yesterday"},
    ),
    Junk(
        "entities item not an object",
        lambda url: {**customer_activity(url), "entities": [1]},
    ),
    Junk(
        "attachments item not an object",
        lambda url: {**customer_activity(url), "attachments": [True]},
    ),
    Junk(
        "locale of 300 characters",
        lambda url: act.webchat_message(url, "cust-locale", "Hi", locale="x" * 300),
    ),
    Junk(
        "Submit whose verb is a list",
        lambda url: act.room_message(url, act.agent(3), "", thread=act.ROOM, value={"action": []}),
    ),
    Junk(
        "Execute with chat id 2**63",
        _execute(2**63),
    ),
    Junk(
        "Execute Close with chat id 2**31",
        _execute(2**31, "close"),
    ),
    Junk(
        "from.id of 300 characters",
        lambda url: act.webchat_message(url, "u" * 300, "Hi"),
    ),
    Junk(
        "from.name of 300 characters",
        lambda url: act.webchat_message(url, "cust-name", "Hi", name="n" * 300),
    ),
    Junk(
        "channelId of 100 characters",
        lambda url: act.webchat_message(url, "cust-chan", "Hi", channel="c" * 100),
    ),
    Junk(
        "activity id of 800 characters",
        lambda url: act.webchat_message(url, "cust-id", "Hi", activity_id="i" * 800),
    ),
    Junk(
        "setup with a 200-character department",
        lambda url: act.room_message(url, act.agent(3), "setup " + "D" * 200),
    ),
    Junk(
        "NUL character in the text",
        lambda url: act.webchat_message(url, "cust-nul", "a\x00b"),
    ),
]


@pytest.mark.parametrize("junk", JUNK, ids=lambda junk: junk.case)
async def test_junk_inside_a_valid_shape_is_not_a_server_error(
    bridge: Bridge, junk: Junk, request: pytest.FixtureRequest
) -> None:
    """Never a 5xx: a channel would re-deliver the same junk again and again."""
    await setup_room(bridge)
    response = await bridge.post(junk.build(bridge.service_url))
    BAD_INPUT.record(bridge, junk.case, f"{response.status}")
    assert response.status < 500, await response.text()
    await assert_healthy(bridge)


async def test_locale_cannot_name_a_file_outside_the_locales(bridge: Bridge) -> None:
    """A locale is a language tag; one that walks out of the locales folder is unknown."""
    walk = "../../deploy/teams/manifest"
    response = await bridge.post(
        act.webchat_message(bridge.service_url, "cust-walk", "Hello", locale=walk)
    )
    stored = None
    if response.status == 201:
        async with bridge.app[keys.ENGINE].connect() as connection:
            stored = await connection.scalar(select(Customer.locale))
    BAD_INPUT.record(
        bridge,
        "locale that walks out of dialogs/locales",
        f"{response.status}, customer locale stored as {stored!r}",
    )
    assert response.status == 201
    assert stored == bridge.settings.default_language


# -- every other endpoint: the one JSON reader, odd parameters, NUL anywhere -----------------

BODIES = [
    # 100,000 deep is over the token endpoints' 16 KiB: 413 there, 400 elsewhere.
    (b"[" * 100_000, "nested too deeply|too large"),
    (b"[" * 10_000, "nested too deeply"),
    (b"[" * 65 + b"]" * 65, "nested too deeply"),
    (b'{"type": "message", "text": "a\\u0000b"}', "NUL character"),
    (b'{"type": "message", "text": "\\ud800"}', "not valid Unicode"),
    (b'{"type": "message", "value": NaN}', "not valid JSON"),
    (b'{"n": 1' + b"0" * 5000 + b"}", "not valid JSON"),
]


async def test_every_endpoint_that_reads_json_refuses_what_it_cannot_read(
    bridge: Bridge, tracebacks: Tracebacks
) -> None:
    """The token endpoints, the local Direct Line (visitor's and bot's side) and
    /api/messages read bodies with one bounded reader: 100,000 nested ``[`` (a
    RecursionError in ``json.loads``), a NUL, a lone surrogate, NaN, a number longer than
    Python converts: 400 with the reason, nothing kept, no traceback."""
    opened = await local_conversation(bridge)
    conversation = opened["conversationId"]
    secret = bridge.app[keys.LOCAL_DIRECT_LINE].secret
    endpoints = [
        ("/api/messages", {}),
        ("/api/directline/token", {}),
        ("/api/directline/refresh", {}),
        ("/v3/directline/tokens/generate", {"Authorization": f"Bearer {secret}"}),
        (
            f"/v3/directline/conversations/{conversation}/activities",
            {"Authorization": f"Bearer {opened['token']}"},
        ),
        (f"/_local/v3/conversations/{conversation}/activities", {}),
    ]
    before = await snapshot(bridge)
    for body, reason in BODIES:
        for path, headers in endpoints:
            response = await bridge.http.post(
                str(bridge.server.make_url(path)),
                data=body,
                headers={**headers, "Content-Type": "application/json"},
            )
            answer = await response.text()
            assert response.status in (400, 413), (path, reason, answer)
            assert re.search(reason, answer), (path, answer)
            assert (response.status == 413) == ("too large" in answer)
        BAD_INPUT.record(bridge, f"{reason} in every JSON endpoint's body", "400 with the reason")
    assert not before.changed(await snapshot(bridge))
    polled = await bridge.http.get(
        str(bridge.server.make_url(f"/v3/directline/conversations/{conversation}/activities")),
        headers={"Authorization": f"Bearer {opened['token']}"},
    )
    assert (await polled.json())["activities"] == []  # nothing refused was kept
    assert tracebacks.records == [], tracebacks.text()


NUL_ANYWHERE = [
    "/api/availability?department=%00",
    "/chat?department=%00",
    "/chat?lang=%00",
    "/widget.js?v=%00",
    "/transcripts/abc%00?token=x",
    "/console/signin/abc%00",
    "/console/chats/abc%00",
    "/healthz?probe=%00",
]


@pytest.mark.parametrize("path", NUL_ANYWHERE)
async def test_a_nul_in_an_address_is_a_400_without_signing_in(
    bridge: Bridge, path: str, tracebacks: Tracebacks
) -> None:
    """PostgreSQL cannot take a NUL in text (asyncpg refuses the query): refused before any
    handler runs, on every route, with the same reason."""
    response = await bridge.http.get(
        URL(str(bridge.server.make_url("/")).rstrip("/") + path, encoded=True),
        allow_redirects=False,
    )
    error = await refusal(response)
    BAD_INPUT.record(bridge, f"GET {path}", f"{response.status}: {error}")
    assert response.status == 400 and "NUL" in error
    assert tracebacks.records == [], tracebacks.text()


async def _supervisor_browser(bridge: Bridge) -> ClientSession:
    await setup_room(bridge)
    http = browser()
    assert await sign_in(bridge, http, await ask_for_link(bridge, act.agent(1))) == 302
    return http


async def test_console_parameters_are_brought_into_range_or_refused(
    bridge: Bridge, tracebacks: Tracebacks
) -> None:
    """Pages past the last, days at the calendar's ends: the same page as the range's
    edge (no overflow). A day that is no day, a page that is no number, a search of NUL
    or of more than anything stored: 400 naming the parameter."""
    http = await _supervisor_browser(bridge)
    try:
        clamped = [
            ("/console/history", {"page": str(10**20)}),
            ("/console/history", {"page": "-5"}),
            ("/console/history", {"until": "9999-12-31"}),
            ("/console/history", {"since": "0001-01-01", "until": "0001-01-01"}),
            ("/console/history.csv", {"until": "9999-12-31"}),
            ("/console/reports", {"until": "9999-12-31"}),
            ("/console/reports", {"until": "0001-01-01"}),
            ("/console/reports", {"since": "0001-01-01", "until": "9999-12-31"}),
        ]
        for path, query in clamped:
            response = await http.get(bridge.server.make_url(path), params=query)
            assert response.status == 200, (path, query, await response.text())
        refused = [
            ("/console/history", {"page": "two"}, "'page'"),
            ("/console/history", {"since": "yesterday"}, "'since'"),
            ("/console/reports", {"until": "2024-02-30"}, "'until'"),
            ("/console/history", {"text": "x" * 201}, "'text'"),
            *[("/console/history", {name: "a\x00b"}, "NUL") for name in SEARCH_FIELDS],
            ("/console/history.csv", {"customer": "\x00"}, "NUL"),
        ]
        for path, query, reason in refused:
            response = await http.get(bridge.server.make_url(path), params=query)
            error = await refusal(response)
            assert response.status == 400 and reason in error, (path, query, error)
        BAD_INPUT.record(
            bridge, "console: page 10**20, days 0001/9999, NUL in searches", "200 / 400"
        )
        # A form's field with a NUL: refused before the form's handler (and its database).
        form = await http.get(bridge.server.make_url("/console/settings"))
        token = re.search(r'name="csrf" value="([^"]+)"', await form.text())
        assert token is not None
        response = await http.post(
            bridge.server.make_url("/console/settings/tag"),
            data={"csrf": token[1], "name": "vip\x00"},
            allow_redirects=False,
        )
        assert response.status == 400 and "NUL" in await refusal(response)
        # Row ids past the column's range (PostgreSQL's integer is 32 bits): no such row.
        for huge in (str(2**31), str(2**63), str(10**30)):
            response = await http.post(
                bridge.server.make_url("/console/settings/supervisor"),
                data={"csrf": token[1], "agent": huge, "do": "add"},
                allow_redirects=False,
            )
            assert response.status == 302, await response.text()
            assert "error=supervisor" in response.headers["Location"]
            response = await http.post(
                bridge.server.make_url("/console/local"), data={"agent": huge}
            )
            assert response.status == 400, await response.text()
    finally:
        await http.close()
    assert tracebacks.records == [], tracebacks.text()


SEARCH_FIELDS = ("customer", "agent", "tag", "text")
