"""The website's conversation kept and answered, over HTTP on both engines: a token renewed
for the visitor's own conversation from the signed chat cookie (Azure's Direct Line and the
local one, also after a restart), photos uploaded to the local Direct Line and passed on to
the agents, agents' lines signed with their name, the welcome's figures, the QR codes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestServer

from tests import activities as act
from tests.conftest import Bridge, BridgeFactory, accept, go_online, open_chat, setup_room
from web.token import VisitorIds

SECRET = "s3cret-direct-line-key"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


class DirectLineWithReconnect:
    """Azure's Direct Line as the token endpoint calls it, with the reconnection that
    renews a token for a conversation in progress (``GET conversations/{id}``)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.server: TestServer | None = None
        self.issued = 0

    async def _answer(self, request: web.Request) -> web.Response:
        self.calls.append((request.method, request.path, request.headers["Authorization"]))
        if request.method == "GET":
            conversation = request.match_info["conversation"]
            if conversation != "conv-1":
                return web.json_response({"error": {"code": "BadArgument"}}, status=404)
            return web.json_response(
                {"conversationId": conversation, "token": "token-again", "expires_in": 1800}
            )
        self.issued += 1
        return web.json_response(
            {"conversationId": f"conv-{self.issued}", "token": "token-new", "expires_in": 1800}
        )

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/v3/directline"))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3/directline/tokens/generate", self._answer)
        app.router.add_get("/v3/directline/conversations/{conversation}", self._answer)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()


@pytest.fixture
async def direct_line() -> AsyncIterator[DirectLineWithReconnect]:
    fake = DirectLineWithReconnect()
    await fake.start()
    yield fake
    assert fake.server is not None
    await fake.server.close()


async def token(bridge: Bridge, cookies: dict[str, str], **body: Any) -> Any:
    url = str(bridge.server.make_url("/api/directline/token"))
    return await bridge.http.post(url, json=body, cookies=cookies)


def cookies_of(answer: Any, kept: dict[str, str] | None = None) -> dict[str, str]:
    return {**(kept or {}), **{name: morsel.value for name, morsel in answer.cookies.items()}}


async def test_a_token_is_renewed_for_the_visitors_own_conversation_only(
    start_bridge: BridgeFactory, direct_line: DirectLineWithReconnect
) -> None:
    bridge = await start_bridge(direct_line_secret=SECRET, direct_line_endpoint=direct_line.url)
    first = await token(bridge, {})
    issued = await first.json()
    kept = cookies_of(first)
    assert issued["conversationId"] == "conv-1" and "sb_chat" in kept
    assert "HttpOnly" in first.headers.getall("Set-Cookie")[0]
    # The next day: the old token has expired; the signed cookie brings the conversation back.
    again = await token(bridge, kept, resume="conv-1")
    renewed = await again.json()
    assert renewed["resumed"] is True and renewed["conversationId"] == "conv-1"
    assert renewed["token"] == "token-again" and renewed["userId"] == issued["userId"]
    reconnected = ("GET", "/v3/directline/conversations/conv-1", f"Bearer {SECRET}")
    assert direct_line.calls[-1] == reconnected
    # Without the chat cookie, with another visitor's, or for another conversation: a new one.
    other_visitor = cookies_of(await token(bridge, {}))
    for cookies, wanted in (
        ({"sb_visitor": kept["sb_visitor"]}, "conv-1"),
        ({**kept, "sb_visitor": other_visitor["sb_visitor"]}, "conv-1"),
        (kept, "conv-someone-else"),
    ):
        answer = await (await token(bridge, cookies, resume=wanted)).json()
        assert "resumed" not in answer and answer["conversationId"] != "conv-1"
    assert [c for c in direct_line.calls if c[0] == "GET"] == [direct_line.calls[1]]


def test_a_chat_cookie_counts_only_signed_for_its_visitor_and_while_remembered() -> None:
    ids = VisitorIds("key")
    until = int(time.time()) + 60
    cookie = ids.chat_cookie("dl_lan", "conv.with.dots", until)
    assert ids.read_chat(cookie, "dl_lan") == "conv.with.dots"
    assert ids.read_chat(cookie, "dl_mai") is None
    assert ids.read_chat(cookie.replace(str(until), str(until + 1)), "dl_lan") is None
    assert ids.read_chat(ids.chat_cookie("dl_lan", "conv", int(time.time()) - 1), "dl_lan") is None
    assert ids.read_chat("garbage", "dl_lan") is None and ids.read_chat(None, "dl_lan") is None


async def open_local(bridge: Bridge, cookies: dict[str, str], **body: Any) -> dict[str, Any]:
    """A token from the bridge's endpoint and the local conversation it opens."""
    answer = await token(bridge, cookies, **body)
    issued = await answer.json()
    started = await bridge.http.post(
        str(bridge.server.make_url("/v3/directline/conversations")),
        headers={"Authorization": f"Bearer {issued['token']}"},
    )
    assert started.status in (200, 201)
    return {**issued, **(await started.json()), "cookies": cookies_of(answer, cookies)}


async def write(bridge: Bridge, opened: dict[str, Any], text: str) -> None:
    url = f"/v3/directline/conversations/{opened['conversationId']}/activities"
    posted = await bridge.http.post(
        str(bridge.server.make_url(url)),
        headers={"Authorization": f"Bearer {opened['token']}"},
        json={"type": "message", "text": text, "locale": "en-US"},
    )
    assert posted.status == 200, await posted.text()


async def test_the_local_conversation_survives_a_restart_of_the_bridge(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge(direct_line_enhanced_auth=True)
    await setup_room(bridge)
    opened = await open_local(bridge, {})
    await write(bridge, opened, "My parcel is late")
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) == 1)
    await bridge.settled()
    # Another process on the same database (a restart): it knows nothing of the conversation
    # in memory, yet the signed cookie and the database's key give the visitor it back.
    restarted = await start_bridge(direct_line_enhanced_auth=True)
    back = await open_local(restarted, opened["cookies"], resume=opened["conversationId"])
    assert back["resumed"] is True
    assert back["conversationId"] == opened["conversationId"]
    assert back["userId"] == opened["userId"]
    await write(restarted, back, "Any news?")
    thread = bridge.connector.created()[0].conversation_id
    await restarted.connector.wait_for(
        lambda: any("Any news?" in text for text in restarted.connector.texts(thread))
    )
    assert len(restarted.connector.created()) == 1  # the same chat, not a new one
    # The token the first process gave still counts in the second (the key is shared).
    await write(restarted, opened, "Still me")


async def upload(
    bridge: Bridge, opened: dict[str, Any], name: str, kind: str, content: bytes
) -> Any:
    form = FormData()
    form.add_field(
        "activity",
        b'{"type": "message", "text": "", "locale": "en-US"}',
        filename="blob",
        content_type="application/vnd.microsoft.activity",
    )
    form.add_field("file", content, filename=name, content_type=kind)
    url = f"/v3/directline/conversations/{opened['conversationId']}/upload?userId=x"
    return await bridge.http.post(
        str(bridge.server.make_url(url)),
        headers={"Authorization": f"Bearer {opened['token']}"},
        data=form,
    )


async def test_a_photo_uploaded_reaches_the_agents_and_other_files_are_refused(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge(direct_line_enhanced_auth=True, upload_max_bytes=4096)
    await setup_room(bridge)
    opened = await open_local(bridge, {})
    await write(bridge, opened, "Here is the parcel")
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) == 1)
    thread = bridge.connector.created()[0].conversation_id
    refused = [
        await upload(bridge, opened, "setup.exe", "application/x-msdownload", b"MZ"),
        await upload(bridge, opened, "big.png", "image/png", PNG + b"\0" * 5000),
    ]
    assert [r.status for r in refused] == [415, 413]
    sent = await upload(bridge, opened, "parcel.png", "image/png", PNG)
    assert sent.status == 200, await sent.text()
    def pictures() -> list[dict[str, Any]]:
        return [
            a
            for a in bridge.connector.activities(thread)
            if any(f["contentType"].startswith("image/") for f in a.get("attachments") or [])
        ]

    await bridge.connector.wait_for(lambda: bool(pictures()))
    posted = pictures()[0]
    picture = posted["attachments"][0]
    assert picture["contentType"] == "image/png" and picture["name"] == "parcel.png"
    assert "parcel.png" in posted["text"]
    served = await bridge.http.get(picture["contentUrl"])
    assert served.status == 200 and await served.read() == PNG
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert not any("setup.exe" in str(a) for a in bridge.connector.activities(thread))


async def test_an_agents_line_carries_their_name_and_the_welcome_its_figures(
    bridge: Bridge,
) -> None:
    mai = act.agent(2, "Minh Anh")
    await setup_room(bridge)
    await go_online(bridge, mai)
    chat = await open_chat(bridge, "dl_lan", "Xin chào")
    await accept(bridge, chat, mai)
    await bridge.post(
        act.room_message(bridge.service_url, mai, "Dạ em chào anh", thread=chat.thread)
    )
    await bridge.settled()
    line = next(
        a for a in bridge.connector.activities(chat.conversation) if a["text"] == "Dạ em chào anh"
    )
    assert line["from"]["name"] == "Minh Anh"
    assert line["channelData"]["supportBridge"] == {
        "kind": "agent",
        "name": "Minh Anh",
        "initials": "MA",
    }
    figures = await (await bridge.get("/api/availability")).json()
    assert figures["online"] is True and figures["faces"] == ["MA"]
    assert isinstance(figures["replySeconds"], int) and figures["replySeconds"] >= 0
    page = await (await bridge.get("/chat?lang=en")).text()
    assert "Usually replies within 1 min" in page and '"faces": ["MA"]' in page


async def test_chat_on_zalo_and_messenger_with_qr_codes(start_bridge: BridgeFactory) -> None:
    plain = await start_bridge()
    assert (await plain.get("/api/offer/zalo.svg")).status == 404
    bridge = await start_bridge(zalo_oa_id="4318492057", messenger_page="shop.vn")
    for channel in ("zalo", "messenger"):
        code = await bridge.get(f"/api/offer/{channel}.svg")
        assert code.status == 200 and code.headers["Content-Type"] == "image/svg+xml"
        assert (await code.text()).startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in (
            await code.text()
        )
    assert (await bridge.get("/api/offer/skype.svg")).status == 404
    page = await (await bridge.get("/chat?lang=vi")).text()
    assert "https://zalo.me/4318492057" in page and "https://m.me/shop.vn" in page
