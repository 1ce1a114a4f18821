"""A company bot answers first: a small bot of our own (a Bot Framework ``/api/messages``
endpoint on aiohttp) behind a real Direct Line server running locally (npm's
``offline-directline``, installed by ``.ci/run`` under build/npm). The bridge is the Direct
Line client: the bot answers the customer, then hands over with ``handoff.initiate`` (its
``va_*`` context and a ``Transcript`` attachment); the card shows the context, the agent
accepts, the bot hears ``handoff.status`` accepted, then completed at close. A bot that
never answers hands the chat to people after the time-out; a customer who asks for a
person gets one."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy import select

from bot import keys
from bot.transcript_page import render
from cards.envelope import adaptive_card
from cards.firstbot import bot_part_card, bot_section
from dialogs.i18n import Texts
from store.models import ChatState, FirstBotChat, MessageKind, ParticipantRole
from store.transcripts import Transcript, TranscriptLine
from store.vocabulary import ChatEvent
from tests import activities as act
from tests.browser import chromium, missing, screenshots
from tests.card_gallery import BOT_CONTEXT, OPENED, story_chat
from tests.conftest import Bridge, BridgeFactory, OpenChat, open_chat_body, setup_room
from tests.test_escaping import CARD, check_activity
from tests.test_escaping import NAME as HOSTILE_NAME
from tests.test_escaping import TEXT as HOSTILE_TEXT
from tests.test_team import MAI, MINH, online, say, thread

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "build" / "npm" / "node_modules"
INSTALL = "npm install --prefix build/npm offline-directline@1.3.1"
NOTE = "Khách muốn hoàn tiền đơn 123 <b>gấp</b> *ngay*"
TRANSCRIPT = [
    {"type": "message", "from": {"role": "user"}, "text": "Xin chào"},
    {"type": "message", "from": {"role": "bot"}, "text": "Chào Quý khách, em là bot."},
    {"type": "message", "from": {"role": "user"}, "text": "Tôi muốn hoàn tiền"},
]
# The offline server serves Direct Line under /directline (the service's own is
# /v3/directline): the endpoint setting is the base up to there.
LAUNCH = """
const express = require('express');
const directline = require('offline-directline/dist/bridge');
const [port, bot] = process.argv.slice(1);
const app = express();
app.use(directline.getRouter('http://127.0.0.1:' + port, bot));
app.listen(Number(port), '127.0.0.1', () => console.log('ready'));
"""


@dataclass
class SmallBot:
    """A Bot Framework bot: greets, answers, and hands over when asked for a refund;
    ``silent``: never answers. ``events``: what the bridge sent it (``handoff.status``)."""

    silent: bool = False
    failing_events: int = 0  # answer this many events with a 500 (the bridge retries)
    events: list[dict[str, Any]] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    started: int = 0  # conversations started (Direct Line says so with conversationUpdate)
    slow_start: float = 0.0  # seconds the first conversation's start takes
    http: ClientSession | None = None

    async def reply(self, activity: dict[str, Any], answer: dict[str, Any]) -> None:
        assert self.http is not None
        url = (
            f"{activity['serviceUrl']}/v3/conversations/{activity['conversation']['id']}"
            f"/activities/{activity['id']}"
        )
        answer = {**answer, "replyToId": activity["id"], "from": {"id": "shop-bot"}}
        async with self.http.post(url, json=answer) as sent:
            assert sent.status == 200

    async def messages(self, request: web.Request) -> web.Response:
        activity = await request.json()
        if activity.get("type") == "conversationUpdate":
            self.started += 1
            await asyncio.sleep(self.slow_start if self.started == 1 else 0)
        if activity.get("type") == "event":
            key = (activity.get("channelData") or {}).get("bridgeKey")
            self.events.append(
                {"name": activity.get("name"), "value": activity.get("value"), "key": key}
            )
            if self.failing_events > 0:
                self.failing_events -= 1
                return web.Response(status=500)
        if activity.get("type") != "message":
            return web.Response(status=200)
        text = activity.get("text", "")
        self.heard.append(text)
        if self.silent:
            return web.Response(status=200)
        if "hoàn tiền" in text:
            await self.reply(activity, {"type": "message", "text": "Em chuyển cho nhân viên ạ."})
            await self.reply(activity, handoff())
        else:
            await self.reply(
                activity,
                {
                    "type": "message",
                    "text": "Chào Quý khách, em là bot.",
                    "suggestedActions": {
                        "actions": [{"type": "imBack", "title": "Đơn hàng", "value": "Đơn hàng"}]
                    },
                },
            )
        return web.Response(status=200)


def handoff() -> dict[str, Any]:
    return {
        "type": "event",
        "name": "handoff.initiate",
        "value": {
            "va_AgentMessage": NOTE,
            "va_LastTopic": "Hoàn tiền",
            "va_LastPhrases": ["Tôi muốn hoàn tiền"],
            "va_Language": "vi-VN",
            "va_Topics": ["Chào hỏi", "Hoàn tiền"],
        },
        "attachments": [
            {
                "name": "Transcript",
                "contentType": "application/json",
                "content": {"activities": TRANSCRIPT},
            }
        ],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Shop:
    bot: SmallBot
    endpoint: str


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    """The small bot, and offline-directline in front of it on 127.0.0.1."""
    node = shutil.which("node")
    if node is None or not (MODULES / "offline-directline").exists():
        missing(f"offline-directline is not installed: run `{INSTALL}` (in .ci/run)")
    assert node is not None
    bot = SmallBot(http=ClientSession())
    app = web.Application()
    app.router.add_post("/api/messages", bot.messages)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        node,
        "-e",
        LAUNCH,
        str(port),
        str(server.make_url("/api/messages")),
        env={**os.environ, "NODE_PATH": str(MODULES)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    ready = await asyncio.wait_for(process.stdout.readline(), 20)
    assert ready.strip() == b"ready"
    yield Shop(bot, f"http://127.0.0.1:{port}/directline")
    process.terminate()
    await process.wait()
    await bot.http.close() if bot.http else None
    await server.close()


async def bot_bridge(
    start_bridge: BridgeFactory, shop: Shop, *, staffed: bool = True, **overrides: Any
) -> Bridge:
    bridge = await start_bridge(
        first_bot_secret="shop-bot-secret",
        first_bot_endpoint=shop.endpoint,
        timer_interval=0.2,
        **overrides,
    )
    await setup_room(bridge, MAI)
    response = await bridge.post(act.room_message(bridge.service_url, MAI, "firstbot on"))
    assert response.status == 201
    await bridge.settled()
    assert "answers new chats of **Support** first" in bridge.connector.texts(act.ROOM)[-1]
    if staffed:
        await online(bridge, MINH)
    return bridge


async def write(bridge: Bridge, text: str, customer: str = "cust-1") -> None:
    response = await bridge.post(act.webchat_message(bridge.service_url, customer, text))
    assert response.status == 201


async def handed_chat(bridge: Bridge, before: int, customer: str = "cust-1") -> OpenChat:
    """The chat whose card the hand-over posted (the ``before``-th thread created)."""
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) > before, timeout=15)
    found = open_chat_body(bridge.connector.created()[before])
    await bridge.settled()
    return OpenChat(customer, f"conv-{customer}", found["thread"], found["card_id"], found["chat"])


def card_text_of(bridge: Bridge, chat: OpenChat) -> str:
    created = next(c for c in bridge.connector.created() if c.conversation_id == chat.thread)
    return json.dumps(created.body["activity"]["attachments"][0]["content"], ensure_ascii=False)


async def wait_until(check: Any, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.05)


async def test_the_bot_answers_then_hands_over_with_its_context(
    start_bridge: BridgeFactory, shop: Shop
) -> None:
    bridge = await bot_bridge(start_bridge, shop)
    before = len(bridge.connector.created())
    await write(bridge, "Xin chào")
    customer = "conv-cust-1"
    await bridge.connector.wait_for(
        lambda: "Chào Quý khách, em là bot." in bridge.connector.texts(customer), timeout=15
    )
    await bridge.settled()
    # The bot's answer reached the customer with its button and the bridge's own.
    answer = next(
        a
        for a in bridge.connector.activities(customer)
        if a.get("text") == "Chào Quý khách, em là bot."
    )
    titles = [a["title"] for a in answer["suggestedActions"]["actions"]]
    assert answer["from"]["name"] == "Bot"  # signed with the bot's name, like an agent's line
    assert titles == ["Đơn hàng", "Gặp nhân viên"]
    # While the bot has the chat, the room sees nothing of it.
    assert len(bridge.connector.created()) == before

    await write(bridge, "Tôi muốn hoàn tiền")
    chat = await handed_chat(bridge, before)
    assert shop.bot.heard == ["Xin chào", "Tôi muốn hoàn tiền"]
    card = card_text_of(bridge, chat)
    # What the bot knew, escaped: its note's markup is shown, never rendered.
    assert "handed this chat over" in card
    assert "Hoàn tiền" in card and "Tôi muốn hoàn tiền" in card and "vi-VN" in card
    assert "<b>" not in card and "\\\\*ngay\\\\*" in card
    # Its part of the chat: one folded post, from its Transcript attachment.
    folded = [
        a
        for a in thread(bridge, chat)
        if "conversation with the company's bot" in a.get("summary", "")
    ]
    assert len(folded) == 1, [(a.get("text"), a.get("summary")) for a in thread(bridge, chat)]
    content = folded[0]["attachments"][0]["content"]
    assert content["body"][1]["isVisible"] is False
    assert "Chào Quý khách, em là bot." in json.dumps(content, ensure_ascii=False)

    card_data = {"action": "accept", "chat": chat.chat_id}
    response = await bridge.post(
        act.invoke_action(bridge.service_url, MINH, chat.thread, "accept", card_data)
    )
    assert response.status == 200
    await bridge.settled()
    await wait_until(lambda: {"state": "accepted"} in [e["value"] for e in shop.bot.events])
    await say(bridge, chat, MINH, "/close")
    await wait_until(lambda: {"state": "completed"} in [e["value"] for e in shop.bot.events])
    assert [e["name"] for e in shop.bot.events] == ["handoff.status", "handoff.status"]

    # The transcript keeps the bot's part apart from the agents'.
    links = bridge.app[keys.LINKS]
    page = await bridge.get(str(links.url(chat.chat_id)).replace("http://bridge.test", ""))
    html = await page.text()
    bot_part, line, agents_part = (
        html.index("With the company&#39;s bot"),
        html.index("Em chuyển cho nhân viên"),
        html.index("With the agents"),
    )
    assert bot_part < line < agents_part
    assert html.count("Em chuyển cho nhân viên") == 1  # the bot's line, kept once


async def test_a_silent_bot_hands_the_chat_to_people_after_its_timeout(
    start_bridge: BridgeFactory, shop: Shop
) -> None:
    shop.bot.silent = True
    bridge = await bot_bridge(start_bridge, shop, first_bot_timeout=1.0)
    before = len(bridge.connector.created())
    started = asyncio.get_running_loop().time()
    await write(bridge, "Alo, có ai không?")
    chat = await handed_chat(bridge, before)
    assert asyncio.get_running_loop().time() - started >= 1.0
    card = card_text_of(bridge, chat)
    assert "did not answer in time" in card
    assert "Alo, có ai không?" in card
    assert shop.bot.heard == ["Alo, có ai không?"]


async def test_a_customer_who_asks_for_a_person_gets_one(
    start_bridge: BridgeFactory, shop: Shop
) -> None:
    bridge = await bot_bridge(start_bridge, shop)
    before = len(bridge.connector.created())
    await write(bridge, "Xin chào")
    await bridge.connector.wait_for(
        lambda: "Chào Quý khách, em là bot." in bridge.connector.texts("conv-cust-1"), timeout=15
    )
    await write(bridge, "Gặp nhân viên")  # the button the bridge added
    chat = await handed_chat(bridge, before)
    assert "asked the company's bot for a person" in card_text_of(bridge, chat)
    assert shop.bot.heard == ["Xin chào"]


async def test_nobody_online_the_bot_hears_failed_and_a_retry_sends_the_same_event(
    start_bridge: BridgeFactory, shop: Shop
) -> None:
    """Nobody can take the chat: the bot hears ``failed`` with the reason. Its Direct Line
    answers the first try with a 500: the outbox tries again with the same key, once."""
    shop.bot.failing_events = 1
    bridge = await bot_bridge(start_bridge, shop, staffed=False)
    before = len(bridge.connector.created())
    await write(bridge, "Tôi muốn hoàn tiền")
    await handed_chat(bridge, before)
    await wait_until(lambda: len(shop.bot.events) == 2)
    await bridge.settled()
    first, again = shop.bot.events
    assert first == again
    assert first["value"]["state"] == "failed" and "No agent is online" in first["value"]["message"]
    await asyncio.sleep(1.0)  # a third would have come by now
    assert len(shop.bot.events) == 2


async def test_the_bot_stays_off_for_a_department_that_has_it_off(
    start_bridge: BridgeFactory, shop: Shop
) -> None:
    bridge = await start_bridge(
        first_bot_secret="shop-bot-secret", first_bot_endpoint=shop.endpoint
    )
    await setup_room(bridge, MAI)
    await online(bridge, MINH)
    before = len(bridge.connector.created())
    await write(bridge, "Xin chào")
    chat = await handed_chat(bridge, before)
    assert "company's bot" not in card_text_of(bridge, chat)
    assert shop.bot.heard == []


def test_what_the_bot_knew_is_shown_as_written() -> None:
    """The bot's note, topic, phrases and lines are the customer's and the bot's text:
    a hostile one shows whole, making no link, picture or heading (``cards/markdown``)."""
    context = {
        "va_AgentMessage": HOSTILE_TEXT,
        "va_LastTopic": HOSTILE_NAME,
        "va_LastPhrases": [HOSTILE_TEXT, HOSTILE_NAME],
        "va_Language": HOSTILE_NAME,
        "reason": "handoff",
    }
    t = Texts("en")
    cards = [
        adaptive_card(bot_section(context, t), []),
        bot_part_card([(False, HOSTILE_TEXT), (True, HOSTILE_NAME)], HOSTILE_NAME, t),
    ]
    for card in cards:
        activity = {"attachments": [{"contentType": CARD, "content": card}]}
        assert check_activity(activity) == []
    assert HOSTILE_TEXT not in json.dumps(cards)  # escaped, not passed through


@dataclass
class ExpiringDirectLine:
    """A minimal fake of Direct Line's token rules (offline-directline checks none): the
    conversation's first token has run out by the first post; the secret reconnects to
    the conversation (``GET /conversations/{id}``) for a new one."""

    posted: list[tuple[str, str]] = field(default_factory=list)  # (bearer, text)

    def bearer(self, request: web.Request) -> str:
        return request.headers.get("Authorization", "").removeprefix("Bearer ")

    async def generate(self, request: web.Request) -> web.Response:
        assert self.bearer(request) == "shop-bot-secret"
        return web.json_response({"token": "first-token", "expires_in": 1800})

    async def start(self, request: web.Request) -> web.Response:
        assert self.bearer(request) == "first-token"
        return web.json_response({"conversationId": "conv-1", "token": "first-token"})

    async def reconnect(self, request: web.Request) -> web.Response:
        if self.bearer(request) != "shop-bot-secret":
            return web.Response(status=403)
        return web.json_response({"conversationId": "conv-1", "token": "second-token"})

    async def post(self, request: web.Request) -> web.Response:
        if self.bearer(request) != "second-token":
            return web.Response(status=403)
        self.posted.append((self.bearer(request), (await request.json()).get("text", "")))
        return web.json_response({"id": f"conv-1|{len(self.posted)}"})

    async def activities(self, request: web.Request) -> web.Response:
        if self.bearer(request) != "second-token":
            return web.Response(status=403)
        return web.json_response({"activities": [], "watermark": "0"})


async def test_a_token_that_ran_out_is_renewed_with_the_secret(
    start_bridge: BridgeFactory,
) -> None:
    fake = ExpiringDirectLine()
    app = web.Application()
    base = "/v3/directline"
    app.router.add_post(f"{base}/tokens/generate", fake.generate)
    app.router.add_post(f"{base}/conversations", fake.start)
    app.router.add_get(f"{base}/conversations/{{id}}", fake.reconnect)
    app.router.add_post(f"{base}/conversations/{{id}}/activities", fake.post)
    app.router.add_get(f"{base}/conversations/{{id}}/activities", fake.activities)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        shop = Shop(SmallBot(), str(server.make_url(base)))
        bridge = await bot_bridge(start_bridge, shop)
        await write(bridge, "Xin chào")
        await wait_until(lambda: fake.posted == [("second-token", "Xin chào")])
        async with bridge.app[keys.ENGINE].connect() as connection:
            kept = await connection.scalar(select(FirstBotChat.token))
        assert kept == "second-token"
        first_bot = bridge.app[keys.FIRST_BOT]
        assert first_bot is not None
        await first_bot.aclose()
    finally:
        await server.close()


async def test_reading_stops_when_the_bot_and_the_customer_are_quiet(
    start_bridge: BridgeFactory, shop: Shop
) -> None:
    """The bot answered and the customer walked away: the bridge stops reading the bot's
    conversation (idle costs nothing), and the chat stays with the bot; the customer's
    next line reads again."""
    bridge = await bot_bridge(start_bridge, shop, first_bot_timeout=1.0, first_bot_poll_max=0.1)
    await write(bridge, "Xin chào")
    customer = "conv-cust-1"
    greeting = "Chào Quý khách, em là bot."
    await bridge.connector.wait_for(
        lambda: greeting in bridge.connector.texts(customer), timeout=15
    )
    first_bot = bridge.app[keys.FIRST_BOT]
    assert first_bot is not None
    await asyncio.wait_for(first_bot.idle(), 15)  # quiet for 1 + 30 * 0.1 s: it stops
    assert bridge.connector.created() == []  # no card: the bot still has the chat
    await write(bridge, "Còn đó không?")
    await bridge.connector.wait_for(
        lambda: bridge.connector.texts(customer).count(greeting) == 2, timeout=15
    )


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    """A page of Debian's Chromium (skipped where it is missing; in CI, failed)."""
    path = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu"]
        )
        yield await launched.new_page()
        await launched.close()


@pytest.mark.parametrize("language", ["vi", "en"])
async def test_the_transcript_page_shows_the_bots_part_apart(page: Page, language: str) -> None:
    """The transcript page in a browser: the bot's part, then the agents', in both
    languages at phone and desktop width (screenshots in build/screenshots)."""
    at = OPENED
    said = [
        (MessageKind.INCOMING, "Trần Thị Lan", "Xin chào"),
        (MessageKind.FIRST_BOT, "", "Chào Quý khách, em là bot của cửa hàng."),
        (MessageKind.INCOMING, "Trần Thị Lan", "Tôi muốn hoàn tiền đơn 123"),
        (MessageKind.FIRST_BOT, "", "Em chuyển cho nhân viên ạ."),
        (MessageKind.ACTIVITY, "Minh Anh", ChatEvent.ACCEPTED),
        (MessageKind.OUTGOING, "Minh Anh", "Dạ em Minh Anh đây, em kiểm tra đơn 123 ạ."),
    ]
    lines = tuple(
        TranscriptLine(kind, author, text, at + timedelta(minutes=i))
        for i, (kind, author, text) in enumerate(said)
    )
    chat = replace(story_chat(ChatState.ACTIVE, returning=False), bot_context=BOT_CONTEXT)
    participants = (("Minh Anh", ParticipantRole.OWNER),)
    html = render(Transcript(chat, participants, lines), Texts(language), "Asia/Ho_Chi_Minh")
    await page.set_content(html)
    headings = await page.locator("h2").all_inner_texts()
    t = Texts(language)
    assert headings == [t("transcript.first_bot_part"), t("transcript.agents_part")]
    logs = page.locator("ol.log")
    await expect(logs.nth(0)).to_contain_text("Em chuyển cho nhân viên ạ.")
    await expect(logs.nth(1)).to_contain_text("em kiểm tra đơn 123")
    await expect(logs.nth(1)).not_to_contain_text("Em chuyển cho nhân viên")
    await screenshots(page, f"transcript-first-bot-{language}")


async def test_a_customers_lines_reach_the_bot_in_order(
    start_bridge: BridgeFactory, shop: Shop
) -> None:
    """Lines written at once reach the bot one after the other: one conversation is
    started (however slowly), and the lines arrive as written."""
    shop.bot.slow_start = 0.5
    bridge = await bot_bridge(start_bridge, shop)
    lines = [f"dòng {n}" for n in range(5)]
    for line in lines:
        await write(bridge, line)
    await wait_until(lambda: len(shop.bot.heard) == len(lines))
    assert shop.bot.heard == lines
    assert shop.bot.started == 1
