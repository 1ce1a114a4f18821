"""Zalo Official Account as a channel of its own, over HTTP against the real app and a
local fake of Zalo's API (both engines): signed events in, replies out with the access
token, the token renewed once across replicas, images both ways, receipts, and the
reply window's refusal told to the agent in words."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from bot import keys, zalo_connect
from bot.channels import plain_text
from bot.settings import Settings
from cards.request import CARD_CONTENT_TYPE, request_card
from dialogs.i18n import Texts
from store import Store, tokens
from store.engine import create_engine
from store.models import Customer, InboundActivity, Message
from store.tokens import TokenPair
from store.vocabulary import ChatState, MessageKind
from tests import activities as act
from tests.card_gallery import story_chat
from tests.conftest import Bridge, BridgeFactory, OpenChat, accept, open_chat_body, setup_room
from tests.zalo_fake import APP_ID, OA_ID, ZaloFake, event, signed

OWNER = act.agent(60, "Owner Mai")


@pytest.fixture
async def zalo() -> AsyncIterator[ZaloFake]:
    fake = ZaloFake()
    await fake.start()
    yield fake
    await fake.stop()


async def connect(bridge: Bridge, fake: ZaloFake) -> None:
    """The pair ``support-bridge zalo connect`` would have stored."""
    async with bridge.app[keys.STORE].unit() as tx:
        await tokens.do_connect(tx, "zalo", TokenPair(fake.access_token, fake.refresh_token))


async def zalo_bridge(start_bridge: BridgeFactory, fake: ZaloFake, **overrides: Any) -> Bridge:
    bridge = await start_bridge(**fake.settings(), **overrides)
    await connect(bridge, fake)
    return bridge


async def deliver(bridge: Bridge, body: bytes, headers: dict[str, str] | None = None) -> int:
    response = await bridge.http.post(
        str(bridge.server.make_url("/api/zalo")), data=body, headers=headers or signed(body)
    )
    await response.read()
    return response.status


async def zalo_chat(bridge: Bridge, user: str, text: str, msg_id: str) -> OpenChat:
    """A Zalo user's first line opens a chat; its card reaches the room."""
    before = len(bridge.connector.created())
    body = event("user_send_text", user, {"msg_id": msg_id, "text": text})
    assert await deliver(bridge, body) == 200
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) > before)
    found = open_chat_body(bridge.connector.created()[before])
    await bridge.settled()
    return OpenChat(user, f"zalo:{user}", found["thread"], found["card_id"], found["chat"])


async def rows(bridge: Bridge, model: Any) -> int:
    async with bridge.app[keys.ENGINE].connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(model)))


async def test_a_signed_zalo_text_reaches_the_room_as_a_card_once(
    start_bridge: BridgeFactory, zalo: ZaloFake
) -> None:
    zalo.names["u-100"] = "Trần Thị Lan"
    bridge = await zalo_bridge(start_bridge, zalo)
    await setup_room(bridge)
    chat = await zalo_chat(bridge, "u-100", "Chào shop, đơn hàng #A1 đâu rồi?", "msg-1")
    card = bridge.connector.created()[0].body["activity"]["attachments"][0]["content"]
    shown = str(card)
    assert "Trần Thị Lan" in shown and "Zalo" in shown and "đơn hàng #A1" in shown
    # The card says until when an answer can reach the customer.
    assert "can reply until" in shown
    # The customer was answered on Zalo, with the OA's access token.
    await bridge.settled()
    assert zalo.texts_to("u-100") and all(m["token"] == "access-1" for m in zalo.messages)
    # Zalo re-delivers the same event: nothing happens twice.
    body = event("user_send_text", "u-100", {"msg_id": "msg-1", "text": "Chào shop"})
    assert await deliver(bridge, body) == 200
    await bridge.settled()
    assert len(bridge.connector.created()) == 1
    async with bridge.app[keys.ENGINE].connect() as connection:
        incoming = await connection.scalar(
            select(func.count()).where(Message.kind == MessageKind.INCOMING)
        )
    assert incoming == 1 and chat.thread


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-ZEvent-Signature": "mac=" + "0" * 64},
        {"X-ZEvent-Signature": "sha256=abc"},
    ],
    ids=["missing", "wrong", "malformed"],
)
async def test_a_bad_signature_is_refused_and_stores_nothing(
    start_bridge: BridgeFactory, zalo: ZaloFake, headers: dict[str, str]
) -> None:
    bridge = await zalo_bridge(start_bridge, zalo)
    await setup_room(bridge)
    keys_before = await rows(bridge, InboundActivity)
    body = event("user_send_text", "u-1", {"msg_id": "m-bad", "text": "hello"})
    assert await deliver(bridge, body, {"Content-Type": "application/json", **headers}) == 401
    # A genuine signature over another body does not carry over either.
    other = event("user_send_text", "u-1", {"msg_id": "m-bad", "text": "hello!"})
    assert await deliver(bridge, body, signed(other)) == 401
    assert await rows(bridge, Customer) == 0
    assert await rows(bridge, Message) == 0
    assert await rows(bridge, InboundActivity) == keys_before
    assert not bridge.connector.created()


async def test_the_agents_reply_reaches_zalo_with_the_access_token(
    start_bridge: BridgeFactory, zalo: ZaloFake
) -> None:
    bridge = await zalo_bridge(start_bridge, zalo)
    await setup_room(bridge)
    chat = await zalo_chat(bridge, "u-200", "Xin chào", "msg-20")
    await accept(bridge, chat, OWNER)
    reply = act.reply(bridge.service_url, OWNER, chat.thread, "Dạ, shop kiểm tra ngay ạ")
    assert (await bridge.post(reply)).status == 201
    await bridge.settled()
    said = "Dạ, shop kiểm tra ngay ạ"
    sent = [m for m in zalo.messages if m["body"]["message"].get("text") == said]
    assert len(sent) == 1
    assert sent[0]["token"] == "access-1"
    assert sent[0]["body"]["recipient"] == {"user_id": "u-200"}


async def test_an_image_from_zalo_reaches_the_agents_and_an_agents_image_is_uploaded(
    start_bridge: BridgeFactory, zalo: ZaloFake
) -> None:
    bridge = await zalo_bridge(start_bridge, zalo)
    await setup_room(bridge)
    chat = await zalo_chat(bridge, "u-300", "Ảnh hóa đơn đây ạ", "msg-30")
    await accept(bridge, chat, OWNER)
    picture = "https://zalo-cdn.example/photo/abc.jpg"
    body = event(
        "user_send_image",
        "u-300",
        {"msg_id": "msg-31", "attachments": [{"type": "image", "payload": {"url": picture}}]},
    )
    assert await deliver(bridge, body) == 200
    await bridge.settled()
    posted = bridge.connector.activities(chat.thread)
    assert any(
        a.get("contentUrl") == picture for p in posted for a in p.get("attachments") or []
    ) or any(picture in (p.get("text") or "") for p in posted)
    # The agent's picture goes to Zalo uploaded, as an attachment.
    zalo.files["shot.png"] = b"\x89PNG fake picture"
    url = f"{zalo.url}/files/shot.png"
    attachment = {
        "contentType": "application/vnd.microsoft.teams.file.download.info",
        "name": "shot.png",
        "content": {"downloadUrl": url, "fileType": "png"},
    }
    reply = act.reply(bridge.service_url, OWNER, chat.thread, "Ảnh đây ạ")
    reply["attachments"] = [attachment]
    assert (await bridge.post(reply)).status == 201
    await bridge.settled()
    assert zalo.uploads == [{"kind": "image", "name": "shot.png", "size": 17}]
    media = [m for m in zalo.messages if "attachment" in m["body"]["message"]]
    assert media and media[0]["body"]["message"]["attachment"]["payload"]["elements"][0][
        "attachment_id"
    ].startswith("image-")


async def test_receipts_are_shown_to_the_agents(
    start_bridge: BridgeFactory, zalo: ZaloFake
) -> None:
    bridge = await zalo_bridge(start_bridge, zalo)
    await setup_room(bridge)
    chat = await zalo_chat(bridge, "u-400", "Alo", "msg-40")
    # Receipts come from the OA's side of the conversation: the customer is the recipient.
    received = event("user_received_message", OA_ID, {"msg_ids": ["oa-1"]}, recipient="u-400")
    seen = event("user_seen_message", OA_ID, {"msg_ids": ["oa-1"]}, recipient="u-400")
    for body in (received, received, seen):  # the second one is a re-delivery
        assert await deliver(bridge, body) == 200
    await bridge.settled()
    texts = bridge.connector.texts(chat.thread)
    assert sum("Delivered" in t for t in texts) == 1
    assert sum("Seen" in t for t in texts) == 1


async def test_the_window_refusal_reaches_the_agent_in_words(
    start_bridge: BridgeFactory, zalo: ZaloFake
) -> None:
    bridge = await zalo_bridge(start_bridge, zalo)
    await setup_room(bridge)
    chat = await zalo_chat(bridge, "u-500", "Cần hỗ trợ", "msg-50")
    await accept(bridge, chat, OWNER)
    zalo.closed_users.add("u-500")
    reply = act.reply(bridge.service_url, OWNER, chat.thread, "Shop trả lời muộn ạ")
    assert (await bridge.post(reply)).status == 201
    await bridge.settled()
    told = [t for t in bridge.connector.texts(chat.thread) if "did not reach" in t]
    assert len(told) == 1, bridge.connector.texts(chat.thread)
    assert "Zalo" in told[0] and "transcript" in told[0]
    # The reply is kept: it is in the chat's transcript.
    async with bridge.app[keys.ENGINE].connect() as connection:
        kept = await connection.scalar(
            select(func.count()).where(Message.text == "Shop trả lời muộn ạ")
        )
    assert kept == 1


async def test_an_expired_token_is_renewed_once_across_two_replicas(
    start_bridge: BridgeFactory, zalo: ZaloFake
) -> None:
    first = await zalo_bridge(start_bridge, zalo)
    second = await start_bridge(**zalo.settings())
    await setup_room(first)
    chats = [
        await zalo_chat(first, "u-600", "Một", "msg-60"),
        await zalo_chat(first, "u-601", "Hai", "msg-61"),
    ]
    for chat in chats:
        await accept(first, chat, OWNER)
    zalo.expire()  # both replicas hold a token Zalo no longer takes
    before = zalo.refreshes
    replies = [
        act.reply(first.service_url, OWNER, chats[0].thread, "Trả lời một"),
        act.reply(first.service_url, OWNER, chats[1].thread, "Trả lời hai"),
    ]
    answers = await asyncio.gather(first.post(replies[0]), second.post(replies[1]))
    assert [a.status for a in answers] == [201, 201]
    await first.settled()
    await second.settled()
    assert zalo.refreshes - before == 1 and zalo.reused == 0
    assert zalo.texts_to("u-600")[-1] == "Trả lời một"
    assert zalo.texts_to("u-601")[-1] == "Trả lời hai"
    # The rotated refresh token is the one stored.
    async with first.app[keys.STORE].reading() as tx:
        stored = await tokens.current(tx, "zalo")
    assert stored is not None
    assert stored.refresh_token == zalo.refresh_token and stored.refreshed == 1


async def test_zalo_connect_stores_the_first_pair_with_pkce(
    database_url: str, zalo: ZaloFake
) -> None:
    settings = Settings(database_url=database_url, db_auto_upgrade=True, **zalo.settings())
    said: list[str] = []

    def paste(prompt: str) -> str:
        link = next(line.strip() for line in said if "/v4/oa/permission?" in line)
        query = parse_qs(urlsplit(link).query)
        assert query["app_id"] == [settings.zalo_app_id] and query["code_challenge"][0]
        return f"https://bridge.example/zalo?code=the-code&state={query['state'][0]}"

    pair = await zalo_connect.connect(settings, paste, said.append, "https://bridge.example/zalo")
    assert pair.refresh_token == zalo.refresh_token
    engine = create_engine(database_url)
    try:
        async with Store(engine).reading() as tx:
            stored = await tokens.current(tx, "zalo")
    finally:
        await engine.dispose()
    assert stored is not None and stored.access_token == zalo.access_token
    # An address from another authorization (its state) is refused.
    with pytest.raises(zalo_connect.ConnectFailed):
        zalo_connect.code_of("https://bridge.example/zalo?code=x&state=other", "mine")


async def test_files_stickers_places_links_and_unfollow_reach_the_thread(
    start_bridge: BridgeFactory, zalo: ZaloFake
) -> None:
    bridge = await zalo_bridge(start_bridge, zalo)
    await setup_room(bridge)
    chat = await zalo_chat(bridge, "u-700", "Chào", "msg-70")
    file_url = "https://zalo-cdn.example/f/hoa-don.pdf"
    place, link = {"latitude": 10.77, "longitude": 106.7}, "https://shop.vn/p/1"
    events = [
        ("user_send_file", {"type": "file", "payload": {"url": file_url, "name": "hoa-don.pdf"}}),
        ("user_send_sticker", {"type": "sticker", "payload": {"id": "s1", "url": "https://s/1"}}),
        ("user_send_location", {"type": "location", "payload": {"coordinates": place}}),
        ("user_send_link", {"type": "link", "payload": {"url": link, "description": "Áo"}}),
    ]
    for n, (name, attachment) in enumerate(events):
        body = event(name, "u-700", {"msg_id": f"msg-7{n + 1}", "attachments": [attachment]})
        assert await deliver(bridge, body) == 200
    follow = json.dumps(
        {"app_id": APP_ID, "event_name": "follow", "timestamp": "1", "follower": {"id": "u-700"}}
    ).encode()
    unfollow = follow.replace(b'"follow"', b'"unfollow"')
    assert await deliver(bridge, follow) == 200
    assert await deliver(bridge, unfollow) == 200
    await bridge.settled()
    shown = " ".join(
        (a.get("text") or "") + str(a.get("attachments") or "")
        for a in bridge.connector.activities(chat.thread)
    )
    assert "hoa-don.pdf" in shown and file_url in shown
    assert "https://s/1" in shown  # the sticker, as an image
    assert "maps?q=10.77,106.7" in shown
    assert "https://shop.vn/p/1" in shown
    assert "stopped following" in shown


def test_a_card_becomes_text_and_links_where_the_channel_has_no_cards() -> None:
    card = {
        "type": "AdaptiveCard",
        "body": [
            {"type": "TextBlock", "text": "Which department?"},
            {"type": "FactSet", "facts": [{"title": "Chat", "value": "#12"}]},
        ],
        "actions": [
            {"type": "Action.Submit", "title": "Sales", "data": {}},
            {"type": "Action.OpenUrl", "title": "Transcript", "url": "https://b.vn/t/1"},
        ],
    }
    activity = {
        "type": "message",
        "text": "**Mai** joined: [the page](https://b.vn/p)",
        "textFormat": "markdown",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": card}],
        "suggestedActions": {"actions": [{"type": "imBack", "title": "Support", "value": "S"}]},
    }
    assert plain_text(activity).splitlines() == [
        "Mai joined: the page (https://b.vn/p)",
        "Which department?",
        "Chat: #12",
        "• Sales",
        "Transcript https://b.vn/t/1",
        "• Support",
    ]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("vi", "Zalo · có thể trả lời đến 14:05 ngày mai"),
        ("en", "Zalo · can reply until 14:05 tomorrow"),
    ],
)
def test_the_card_shows_until_when_a_reply_can_reach_the_customer(
    language: str, expected: str
) -> None:
    """Zalo's window, in the department's time zone: a customer who last wrote at 14:05 on
    a Monday (Hanoi) can be answered until 14:05 seven days later; the day before, the
    card says "tomorrow"."""
    last = datetime(2026, 12, 7, 7, 5, tzinfo=UTC)  # 14:05 in Hanoi
    chat = replace(
        story_chat(ChatState.ACTIVE),
        customer_channel="zalo",
        customer_last_at=last,
        time_zone="Asia/Ho_Chi_Minh",
    )
    now = last + timedelta(days=6, hours=1)
    card = request_card(chat, Texts(language), now=now)
    assert expected in str(card)
    closed = request_card(chat, Texts(language), now=last + timedelta(days=8))
    assert ("đã hết thời hạn trả lời" if language == "vi" else "reply window has closed") in str(
        closed
    )
