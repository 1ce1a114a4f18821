"""The front door over HTTP, on both engines: the token endpoint against a fake Direct
Line service, the local Direct Line (tokens bind the sender; stream and polling), the
availability answer, and what the pre-chat form's data does to a chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, WSMsgType, web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot import keys
from dialogs.i18n import Texts
from store.models import Customer
from tests import activities as act
from tests.conftest import Bridge, BridgeFactory, go_online, setup_room

SECRET = "s3cret-direct-line-key"
SHOP = "https://shop.example"
EN = Texts("en")


class FakeDirectLine:
    """Microsoft's Direct Line token API as far as the bridge calls it; records each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.status = 200
        self.server: TestServer | None = None

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.calls.append((request.path, request.headers.get("Authorization", ""), body))
        if self.status != 200:
            return web.json_response({"error": {"message": f"bad key {SECRET}"}}, status=403)
        fresh = request.path.endswith("refresh")
        token = "token-refreshed" if fresh else "token-issued"
        return web.json_response({"conversationId": "conv-1", "token": token, "expires_in": 1800})

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/v3/directline"))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3/directline/tokens/generate", self._answer)
        app.router.add_post("/v3/directline/tokens/refresh", self._answer)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()


@pytest.fixture
async def direct_line() -> AsyncIterator[FakeDirectLine]:
    fake = FakeDirectLine()
    await fake.start()
    yield fake
    assert fake.server is not None
    await fake.server.close()


async def with_azure(start_bridge: BridgeFactory, fake: FakeDirectLine, **extra: Any) -> Bridge:
    return await start_bridge(
        direct_line_secret=SECRET,
        direct_line_endpoint=fake.url,
        allowed_origins=frozenset({SHOP}),
        **extra,
    )


async def ask_token(bridge: Bridge, path: str = "token", **kwargs: Any) -> Any:
    url = str(bridge.server.make_url(f"/api/directline/{path}"))
    return await bridge.http.post(url, **kwargs)


async def test_token_binds_a_visitor_id_and_never_shows_the_secret(
    start_bridge: BridgeFactory, direct_line: FakeDirectLine
) -> None:
    bridge = await with_azure(start_bridge, direct_line)
    answer = await ask_token(bridge, json={"name": "Lan"}, headers={"Origin": SHOP})
    text = await answer.text()
    assert answer.status == 200 and SECRET not in text
    issued = await answer.json()
    assert issued["token"] == "token-issued" and issued["conversationId"] == "conv-1"
    assert issued["userId"].startswith("dl_")
    assert answer.headers["Access-Control-Allow-Origin"] == SHOP
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Path=/api/directline" in cookie
    path, authorization, body = direct_line.calls[0]
    assert path.endswith("/tokens/generate") and authorization == f"Bearer {SECRET}"
    assert body["user"] == {"id": issued["userId"], "name": "Lan"}
    assert SHOP in body["trustedOrigins"]
    # The cookie brings the visitor back as the same user.
    kept = {"sb_visitor": answer.cookies["sb_visitor"].value}
    again = await (await ask_token(bridge, headers={"Origin": SHOP}, cookies=kept)).json()
    assert again["userId"] == issued["userId"]
    # A forged cookie does not: the bridge signed the ids it gave.
    forged = await ask_token(bridge, cookies={"sb_visitor": "dl_someone.0000"})
    assert (await forged.json())["userId"] != "dl_someone"
    # Refresh passes the token, never the secret.
    refreshed = await ask_token(bridge, "refresh", json={"token": "token-issued"})
    assert (await refreshed.json())["token"] == "token-refreshed"
    assert direct_line.calls[-1][1] == "Bearer token-issued"


async def test_token_refuses_foreign_origins(
    start_bridge: BridgeFactory, direct_line: FakeDirectLine
) -> None:
    bridge = await with_azure(start_bridge, direct_line)
    for method in ("POST", "OPTIONS"):
        url = str(bridge.server.make_url("/api/directline/token"))
        refused = await bridge.http.request(method, url, headers={"Origin": "https://evil.example"})
        assert refused.status == 403
        assert "Access-Control-Allow-Origin" not in refused.headers
    assert direct_line.calls == []
    preflight = await bridge.http.options(
        str(bridge.server.make_url("/api/directline/token")), headers={"Origin": SHOP}
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP


async def test_token_requests_are_limited_per_address(
    start_bridge: BridgeFactory, direct_line: FakeDirectLine
) -> None:
    bridge = await with_azure(start_bridge, direct_line, token_rate_limit=2)
    statuses = [(await ask_token(bridge)).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = await ask_token(bridge)
    assert int(limited.headers["Retry-After"]) >= 1


async def test_a_refusing_direct_line_is_a_502_without_its_answer(
    start_bridge: BridgeFactory, direct_line: FakeDirectLine
) -> None:
    bridge = await with_azure(start_bridge, direct_line)
    direct_line.status = 403
    answer = await ask_token(bridge)
    assert answer.status == 502 and SECRET not in await answer.text()


async def local_conversation(bridge: Bridge) -> dict[str, Any]:
    """A token from the bridge and the conversation it opens on the local Direct Line."""
    issued = await (await ask_token(bridge)).json()
    started = await bridge.http.post(
        str(bridge.server.make_url("/v3/directline/conversations")),
        headers={"Authorization": f"Bearer {issued['token']}"},
    )
    assert started.status == 201
    return {**issued, **(await started.json())}


async def test_local_direct_line_writes_as_the_token_user_and_streams_the_reply(
    start_bridge: BridgeFactory,
) -> None:
    # As from_env sets it in local mode: the local Direct Line enforces the token's user.
    bridge = await start_bridge(direct_line_enhanced_auth=True)
    await setup_room(bridge)
    opened = await local_conversation(bridge)
    auth = {"Authorization": f"Bearer {opened['token']}"}
    activities = str(
        bridge.server.make_url(f"/v3/directline/conversations/{opened['conversationId']}")
    )
    async with ClientSession() as http, http.ws_connect(opened["streamUrl"]) as stream:
        posted = await http.post(
            f"{activities}/activities",
            headers=auth,
            json={"type": "message", "text": "Hello", "from": {"id": "dl_victim"}},
        )
        assert posted.status == 200
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(10):
            while not any(a["from"].get("role") == "bot" for a in seen):
                message = await stream.receive()
                assert message.type == WSMsgType.TEXT
                seen.extend(message.json()["activities"])
    assert seen[0]["text"] == "Hello" and seen[0]["from"]["id"] == opened["userId"]
    reply = next(a for a in seen if a["from"].get("role") == "bot")
    assert reply["text"] == "\n\n".join(
        (
            EN("customer.nobody_online", department="Customer Support"),
            EN("customer.ask_contact"),
        )
    )
    async with bridge.app[keys.ENGINE].connect() as connection:
        users = (await connection.execute(select(Customer.user_id))).scalars().all()
    assert users == [opened["userId"]]
    polled = await (
        await bridge.http.get(f"{activities}/activities?watermark=1", headers=auth)
    ).json()
    assert [a["id"] for a in polled["activities"]] == [a["id"] for a in seen[1:]]
    # Another conversation's token, or none, gets nothing.
    other = await local_conversation(bridge)
    for headers in ({"Authorization": f"Bearer {other['token']}"}, {}):
        refused = await bridge.http.post(
            f"{activities}/activities", headers=headers, json={"type": "message", "text": "x"}
        )
        assert refused.status == 403


async def test_local_tools_may_leave_out_the_recipient(bridge: Bridge) -> None:
    await setup_room(bridge)
    activity = act.webchat_message(bridge.service_url, "emu-user", "hi", channel="emulator")
    del activity["recipient"]
    assert (await bridge.post(activity)).status == 201
    await bridge.connector.wait_for(lambda: len(bridge.connector.texts("conv-emu-user")) == 1)


async def test_availability_follows_the_agents(bridge: Bridge) -> None:
    await setup_room(bridge)
    url = str(bridge.server.make_url("/api/availability"))
    nobody = {"online": False, "faces": [], "replySeconds": None}
    assert await (await bridge.http.get(url)).json() == nobody
    assert (await bridge.http.get(url, params={"department": "Nowhere"})).status == 404
    await go_online(bridge, act.agent(2, "Mai"))
    for department in ("", "Support", "support"):
        answer = await bridge.http.get(url, params={"department": department})
        assert await answer.json() == {"online": True, "faces": ["M"], "replySeconds": None}


async def test_prechat_data_names_the_customer_and_skips_the_department_question(
    bridge: Bridge,
) -> None:
    await setup_room(bridge)
    sales = "19:room-sales@thread.tacv2"
    await bridge.post(act.room_message(bridge.service_url, act.agent(1), "setup Sales", room=sales))
    await bridge.settled()
    prechat = {"name": "Lan Nguyen", "contact": "+84 90 123 4567", "department": "Sales"}
    activity = act.webchat_message(bridge.service_url, "dl_lan", "Cần báo giá")
    activity["channelData"] = {"prechat": prechat}
    assert (await bridge.post(activity)).status == 201
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) == 1)
    await bridge.settled()
    created = bridge.connector.created()[0].body
    assert created["channelData"]["channel"]["id"] == sales
    card = str(created["activity"]["attachments"][0]["content"])
    assert "Lan Nguyen" in card and "+84 90 123 4567" in card
    said = bridge.connector.activities("conv-dl_lan")
    assert len(said) == 1 and not said[0].get("attachments")
