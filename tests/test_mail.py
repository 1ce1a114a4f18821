"""Answered after leaving: a web customer with nobody to answer is asked once for a
contact; an agent's later reply reaches them by mail too (a real SMTP server on
127.0.0.1), exactly once, with a signed link back to the chat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from bot import keys
from store.models import OutboxItem
from store.vocabulary import OutboxKind
from tests import activities as act
from tests.conftest import (
    Bridge,
    BridgeFactory,
    ManualClock,
    OpenChat,
    accept,
    open_chat,
    setup_room,
)
from tests.mailbox import Mailbox, smtp_server

OWNER = act.agent(2, "Nguyễn Thị Lan")


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    async with smtp_server() as box:
        yield box


def mail_settings(mailbox: Mailbox, **more: Any) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mailbox.port,
        "smtp_tls": "none",
        "mail_from": "hotro@shop.test",
        "email_after_minutes": 5.0,
        "email_batch_seconds": 0.0,
        "retry_base_delay": 0.05,
        "retry_max_delay": 0.2,
        **more,
    }


async def say(bridge: Bridge, customer: str, text: str, **kwargs: Any) -> None:
    response = await bridge.post(act.webchat_message(bridge.service_url, customer, text, **kwargs))
    assert response.status == 201
    await bridge.settled()


async def answer(bridge: Bridge, chat: OpenChat, text: str) -> None:
    response = await bridge.post(act.reply(bridge.service_url, OWNER, chat.thread, text))
    assert response.status == 201


async def mail_rows(bridge: Bridge) -> list[OutboxItem]:
    async with bridge.app[keys.ENGINE].connect() as connection:
        rows = await connection.execute(
            select(OutboxItem).where(OutboxItem.kind == OutboxKind.EMAIL).order_by(OutboxItem.id)
        )
        return [OutboxItem(**row._mapping) for row in rows]


async def left_with_address(
    start_bridge: BridgeFactory, mailbox: Mailbox, clock: ManualClock, **more: Any
) -> tuple[Bridge, OpenChat]:
    """Nobody online: the customer is asked for a contact, gives an address, an agent
    accepts, and the customer stays silent past EMAIL_AFTER_MINUTES."""
    bridge = await start_bridge(clock, **mail_settings(mailbox, **more))
    await setup_room(bridge)
    chat = await open_chat(bridge, "c-left", "Đơn hàng 123 của tôi đâu rồi?")
    [told] = bridge.connector.texts(chat.conversation)
    assert "chưa có nhân viên trực tuyến" in told
    assert told.count("địa chỉ email") == 1  # asked once, in the same notice
    await say(bridge, "c-left", "email của tôi là lan@example.com nhé")
    kept = bridge.connector.texts(chat.conversation)[-1]
    assert "lan@example.com" in kept and "email" in kept
    await accept(bridge, chat, OWNER)
    clock.advance(6 * 60)
    return bridge, chat


async def test_a_reply_to_a_customer_who_left_arrives_by_mail_once_with_a_link(
    start_bridge: BridgeFactory, mailbox: Mailbox
) -> None:
    clock = ManualClock()
    bridge, chat = await left_with_address(start_bridge, mailbox, clock)
    await answer(bridge, chat, "Đơn 123 đã rời kho hôm nay.")
    [mail] = await mailbox.wait_for(1)
    body = Mailbox.body(mail)
    assert mail["To"] == "lan@example.com"
    assert "Chăm sóc khách hàng" in mail["Subject"]
    assert "Đơn 123 đã rời kho hôm nay." in body and "Nguyễn Thị Lan" in body
    # The link back: the chat page, with a signed reference of this chat.
    link = next(word for word in body.split() if word.startswith("http://bridge.test/chat?"))
    resume = parse_qs(urlsplit(link).query)["resume"][0]
    assert bridge.app[keys.LINKS].resumed(resume) == chat.chat_id
    assert bridge.app[keys.LINKS].resumed(resume.replace(".", "x.", 1)) is None
    # The reply is in the conversation too, signed with the agent's name.
    [line] = [a for a in bridge.connector.activities(chat.conversation) if "rời kho" in a["text"]]
    assert line["from"]["name"] == "Nguyễn Thị Lan"
    assert line["channelData"]["supportBridge"] == {
        "kind": "agent",
        "name": "Nguyễn Thị Lan",
        "initials": "NL",
    }
    # A second reply of the same absence: a second mail with only the new line.
    await answer(bridge, chat, "Dự kiến giao ngày mai.")
    await mailbox.wait_for(2)
    await bridge.settled()
    await asyncio.sleep(0.3)
    second = Mailbox.body(mailbox.mails[1])
    assert "Dự kiến giao ngày mai." in second and "rời kho" not in second
    assert len(mailbox.mails) == 2
    # Back in the chat: the customer writes, so the next reply goes to the chat only.
    await say(bridge, "c-left", "Cảm ơn!")
    await answer(bridge, chat, "Không có gì ạ.")
    await bridge.settled()
    await asyncio.sleep(0.3)
    assert len(mailbox.mails) == 2


async def test_a_present_customer_gets_no_mail(
    start_bridge: BridgeFactory, mailbox: Mailbox
) -> None:
    clock = ManualClock()
    bridge, chat = await left_with_address(start_bridge, mailbox, clock)
    await say(bridge, "c-left", "Tôi vẫn ở đây")
    await answer(bridge, chat, "Chào chị, em xem ngay.")
    await bridge.settled()
    await asyncio.sleep(0.3)
    assert mailbox.mails == [] and await mail_rows(bridge) == []


async def test_a_mail_the_server_defers_is_sent_again_exactly_once(
    start_bridge: BridgeFactory, mailbox: Mailbox
) -> None:
    clock = ManualClock()
    bridge, chat = await left_with_address(start_bridge, mailbox, clock)
    mailbox.refusals = ["451 4.3.0 Try again later", "421 4.4.2 Busy"]
    await answer(bridge, chat, "Đơn 123 đã rời kho hôm nay.")
    # The lane waits for the row's retry (the sweep reads the bridge's clock).
    for _ in range(50):
        if mailbox.mails:
            break
        clock.advance(1)
        await asyncio.sleep(0.05)
    await mailbox.wait_for(1)
    await bridge.settled()
    await asyncio.sleep(0.3)
    assert mailbox.refused == 2
    [mail] = mailbox.mails
    assert Mailbox.body(mail).count("Đơn 123 đã rời kho hôm nay.") == 1
    [row] = await mail_rows(bridge)
    assert row.state == "delivered" and row.attempts == 3
    lines = [t for t in bridge.connector.texts(chat.conversation) if "rời kho" in t]
    assert len(lines) == 1


async def test_replies_written_together_go_in_one_mail(
    start_bridge: BridgeFactory, mailbox: Mailbox
) -> None:
    clock = ManualClock()
    bridge, chat = await left_with_address(start_bridge, mailbox, clock, email_batch_seconds=30)
    await answer(bridge, chat, "Đơn 123 đã rời kho hôm nay.")
    await answer(bridge, chat, "Dự kiến giao ngày mai.")
    await asyncio.sleep(0.3)
    assert mailbox.mails == []  # waiting for the rest of the replies
    clock.advance(31)
    [mail] = await mailbox.wait_for(1)
    await bridge.settled()
    await asyncio.sleep(0.3)
    body = Mailbox.body(mail)
    assert "rời kho" in body and "giao ngày mai" in body
    assert len(mailbox.mails) == 1
    assert [row.state for row in await mail_rows(bridge)] == ["delivered", "delivered"]


async def test_a_refused_mail_is_logged_and_told_in_the_thread(
    start_bridge: BridgeFactory, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    bridge, chat = await left_with_address(start_bridge, mailbox, clock)
    mailbox.refuse_all = "550 5.1.1 No such mailbox"
    with caplog.at_level(logging.ERROR, logger="bot.mail"):
        await answer(bridge, chat, "Đơn 123 đã rời kho hôm nay.")
        await bridge.connector.wait_for(
            lambda: any("could not be sent" in t for t in bridge.connector.texts(chat.thread))
        )
    note = next(t for t in bridge.connector.texts(chat.thread) if "could not be sent" in t)
    assert "lan@example.com" in note and "550" in note
    assert any("failed for good" in r.getMessage() for r in caplog.records)
    [row] = await mail_rows(bridge)
    assert row.state == "failed"


async def test_without_smtp_the_customer_is_asked_for_a_contact_but_nothing_is_mailed(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge()
    await setup_room(bridge)
    chat = await open_chat(bridge, "c-nomail", "Is anyone there?", locale="en-US")
    [told] = bridge.connector.texts(chat.conversation)
    assert "phone number or an email address" in told
    await say(bridge, "c-nomail", "0901 234 567", locale="en-US")
    assert "call you back at 0901 234 567" in bridge.connector.texts(chat.conversation)[-1]


async def test_at_the_close_the_customer_asks_for_the_transcript_by_mail(
    start_bridge: BridgeFactory, mailbox: Mailbox
) -> None:
    clock = ManualClock()
    bridge, chat = await left_with_address(start_bridge, mailbox, clock)
    await say(bridge, "c-left", "Tôi vẫn ở đây")
    await answer(bridge, chat, "Đơn 123 đã rời kho hôm nay.")
    close = act.reply(bridge.service_url, OWNER, chat.thread, "/close")
    assert (await bridge.post(close)).status == 201
    await bridge.settled()
    goodbye = bridge.connector.activities(chat.conversation)[-1]
    card = goodbye["attachments"][0]["content"]
    [button] = card["actions"]
    assert button["title"] == "Gửi bản ghi qua email"
    # Another customer's press names this chat: nothing is mailed.
    await say(bridge, "c-other", "", value=button["data"])
    assert "chưa gửi được" in bridge.connector.texts("conv-c-other")[-1]
    await say(bridge, "c-left", "", value=button["data"])
    assert "lan@example.com" in bridge.connector.texts(chat.conversation)[-1]
    [mail] = await mailbox.wait_for(1)
    body = Mailbox.body(mail)
    assert mail["Subject"].startswith("Bản ghi cuộc trò chuyện")
    assert "Tôi vẫn ở đây" in body and "Đơn 123 đã rời kho hôm nay." in body
    assert f"http://bridge.test/transcripts/{chat.chat_id}?token=" in body
    await bridge.settled()
    await asyncio.sleep(0.2)
    assert len(mailbox.mails) == 1
