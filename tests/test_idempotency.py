"""A re-delivered activity changes nothing and relays nothing twice; floods are slowed."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot import keys
from store.models import Chat, Message, MessageKind
from tests import activities as act
from tests.conftest import Area, Bridge, BridgeFactory, accepted_chat, open_chat, setup_room
from tests.posts import lines

DUPLICATE = Area("duplicate delivery")


async def count(bridge: Bridge, column) -> int:
    async with bridge.app[keys.ENGINE].connect() as connection:
        return await connection.scalar(select(func.count(column)))


async def test_same_activity_id_twice_is_relayed_once(bridge: Bridge) -> None:
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-dup", "first", locale="en-US")
    again = act.webchat_message(bridge.service_url, "cust-dup", "only once", activity_id="wc-77")
    responses = await asyncio.gather(*(bridge.post(again) for _ in range(3)))
    assert all(r.status == 201 for r in responses)
    await bridge.post(again)
    await bridge.settled()
    assert [t for t in bridge.connector.texts(chat.thread) if "only once" in t] == [
        "**Lan:** only once"
    ]
    # The customer's two messages (the transcript also keeps what the bridge told them).
    async with bridge.app[keys.ENGINE].connect() as connection:
        said = select(func.count(Message.id)).where(Message.kind == MessageKind.INCOMING)
        assert await connection.scalar(said) == 2
    DUPLICATE.record(
        bridge, "same activity id, 4 times (3 at once)", "stored once, relayed once", twice=0
    )


async def test_first_message_twice_opens_one_chat(bridge: Bridge) -> None:
    await setup_room(bridge)
    first = act.webchat_message(bridge.service_url, "cust-twin", "hello", activity_id="wc-1")
    responses = await asyncio.gather(*(bridge.post(first) for _ in range(5)))
    assert all(r.status == 201 for r in responses)
    await bridge.settled()
    assert len(bridge.connector.created()) == 1
    assert len(bridge.connector.texts("conv-cust-twin")) == 1
    assert await count(bridge, Chat.id) == 1
    DUPLICATE.record(
        bridge, "first message 5 times at once", "one chat, one card, one acknowledgement"
    )


async def test_different_first_messages_at_once_on_two_replicas_open_one_chat(
    start_bridge: BridgeFactory,
) -> None:
    """Two replicas store the same new customer's first lines at the same moment: one
    wins the unique keys (customer, open chat); the other's unit is tried again whole and
    finds the winner's rows, so every line is kept, in one chat with one card."""
    first, second = await start_bridge(), await start_bridge()
    await setup_room(first)
    said = [f"line {n}" for n in range(6)]
    posts = [
        (first if n % 2 else second).post(
            act.webchat_message(first.service_url, "cust-race", text, locale="en-US")
        )
        for n, text in enumerate(said)
    ]
    assert all(r.status == 201 for r in await asyncio.gather(*posts))
    await first.settled()
    await second.settled()
    assert await count(first, Chat.id) == 1
    assert len(first.connector.created()) == 1
    async with first.app[keys.ENGINE].connect() as connection:
        kept = await connection.scalars(
            select(Message.text).where(Message.kind == MessageKind.INCOMING)
        )
        assert sorted(kept) == said


async def test_new_id_with_same_client_activity_id_is_relayed_once(bridge: Bridge) -> None:
    """Direct Line does not de-duplicate; Web Chat's own id survives its retries."""
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-cid", "first", locale="en-US")
    for n in range(3):
        retry = act.webchat_message(
            bridge.service_url,
            "cust-cid",
            "from webchat",
            activity_id=f"dl-{n}",
            client_activity_id="wc-client-5",
        )
        assert (await bridge.post(retry)).status == 201
    await bridge.settled()
    assert [t for t in bridge.connector.texts(chat.thread) if "from webchat" in t] == [
        "**Lan:** from webchat"
    ]
    DUPLICATE.record(bridge, "new activity id, same clientActivityID", "stored once, relayed once")


async def test_agent_reply_redelivered_by_teams_is_relayed_once(bridge: Bridge) -> None:
    owner = act.agent(50, "Binh")
    chat = await accepted_chat(bridge, "cust-teams", "hi", owner, locale="en-US")
    reply = act.reply(bridge.service_url, owner, chat.thread, "answer", activity_id="teams-9")
    await asyncio.gather(bridge.post(reply), bridge.post(reply))
    await bridge.settled()
    assert bridge.connector.texts(chat.conversation).count("answer") == 1
    DUPLICATE.record(bridge, "Teams re-delivers an agent's reply", "relayed once")


async def test_double_submit_of_accept_and_close_does_nothing_twice(bridge: Bridge) -> None:
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-dbl", "hi", locale="en-US")
    owner = act.agent(51, "Khoa")
    accept = {"action": "accept", "chat": chat.chat_id}
    for _ in range(2):
        await bridge.post(
            act.room_message(bridge.service_url, owner, "", thread=chat.thread, value=accept)
        )
    close = {"action": "close", "chat": chat.chat_id}
    for _ in range(2):
        await bridge.post(
            act.room_message(bridge.service_url, owner, "", thread=chat.thread, value=close)
        )
    await bridge.settled()
    customer = bridge.connector.texts(chat.conversation)
    assert sum("joined" in t for t in customer) == 1
    assert sum("ended" in t for t in customer) == 1
    assert len(bridge.connector.updates(chat.thread, chat.card_id)) == 2
    assert not [a for a in bridge.connector.activities(chat.thread) if a.get("entities")]
    assert sum("Transcript" in t for t in bridge.connector.texts(chat.thread)) == 1
    DUPLICATE.record(
        bridge, "Accept and Close each submitted twice", "one claim, one close, one notice each"
    )


async def test_a_flood_is_slowed_politely_and_nothing_is_dropped(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge(flood_messages=5, flood_window=60.0)
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-flood", "start", locale="vi-VN")
    sent = [f"tin {n}" for n in range(15)]
    for text in sent:
        assert (
            await bridge.post(act.webchat_message(bridge.service_url, "cust-flood", text))
        ).status == 201
    await bridge.settled()
    # Lines that waited behind others may share a post (one paragraph each).
    relayed = [t.split(":** ", 1)[1] for t in lines(bridge.connector, chat.thread)]
    assert relayed == sent
    notices = [t for t in bridge.connector.texts(chat.conversation) if "rất nhanh" in t]
    assert len(notices) == 1
    Area("flood").record(
        bridge,
        "15 messages at once, limit 5 per minute",
        "one polite notice in the customer's language; all 15 relayed in order",
    )
