"""Messenger (Azure Bot Service's ``facebook`` channel) and its reply windows, over HTTP
against the real app (both engines): free replies for 24 hours after the customer's last
message, ``HUMAN_AGENT`` up to 7 days, and past that the agent is told in words; and
Teams' pacing is kept for Teams only."""

from __future__ import annotations

from typing import Any

from bot.channels.botframework import HUMAN_AGENT_TAG
from tests import activities as act
from tests.conftest import Bridge, BridgeFactory, ManualClock, accepted_chat

OWNER = act.agent(70, "Owner Hùng")
HOUR = 3600.0


def to_customer(bridge: Bridge, customer: str, text: str) -> list[dict[str, Any]]:
    return [a for a in bridge.connector.activities(f"conv-{customer}") if a.get("text") == text]


async def reply(bridge: Bridge, thread: str, text: str) -> None:
    response = await bridge.post(act.reply(bridge.service_url, OWNER, thread, text))
    assert response.status == 201
    await bridge.settled()


async def test_messenger_replies_keep_the_windows(
    start_bridge: BridgeFactory, clock: ManualClock
) -> None:
    bridge = await start_bridge(clock)
    chat = await accepted_chat(
        bridge, "psid-1", "Hello, my order?", OWNER, channel="facebook", locale="en-US"
    )
    await reply(bridge, chat.thread, "Within a day")
    (within,) = to_customer(bridge, "psid-1", "Within a day")
    assert (within.get("channelData") or {}).get("tag") is None
    clock.advance(25 * HOUR)
    await reply(bridge, chat.thread, "After a day")
    (tagged,) = to_customer(bridge, "psid-1", "After a day")
    assert {k: tagged["channelData"][k] for k in HUMAN_AGENT_TAG} == HUMAN_AGENT_TAG
    clock.advance(7 * 24 * HOUR)  # eight days and a hour since the customer wrote
    typing = act.reply(bridge.service_url, OWNER, chat.thread, "")
    typing["type"] = "typing"
    assert (await bridge.post(typing)).status == 201
    await reply(bridge, chat.thread, "After a week")
    assert to_customer(bridge, "psid-1", "After a week") == []
    told = [t for t in bridge.connector.texts(chat.thread) if "did not reach" in t]
    assert len(told) == 1 and "Messenger" in told[0]
    # The customer writes again: the window opens again, replies go untagged.
    response = await bridge.post(
        act.webchat_message(bridge.service_url, "psid-1", "Still there?", channel="facebook")
    )
    assert response.status == 201
    await bridge.settled()
    await reply(bridge, chat.thread, "Yes")
    (again,) = to_customer(bridge, "psid-1", "Yes")
    assert (again.get("channelData") or {}).get("tag") is None


async def test_web_chat_customers_are_not_held_to_teams_pace(
    start_bridge: BridgeFactory,
) -> None:
    """Teams allows about 7 sends a second into one conversation; a Web Chat customer's
    conversation is no Teams conversation, so a burst of replies goes without waiting."""
    bridge = await start_bridge(pace_thread_limits="3/5", coalesce_bytes=0)
    chat = await accepted_chat(bridge, "web-1", "Hi", OWNER, locale="en-US")
    for n in range(6):
        await bridge.post(act.reply(bridge.service_url, OWNER, chat.thread, f"line {n}"))
    await bridge.settled(timeout=3.0)
    texts = [a.get("text") or "" for a in bridge.connector.activities("conv-web-1")]
    assert all(any(f"line {n}" in t for t in texts) for n in range(6))
