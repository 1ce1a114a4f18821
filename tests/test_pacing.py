"""Pacing and coalescing end to end, on both engines: lines that wait in a lane go as one
post, which a connector fault or a lost answer never splits, loses or doubles; two
replicas keep one channel's budget between them.

Nothing here measures time (the bench does): a slow answer only makes lines wait.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select

from bot import keys
from store import dispatch
from store.models import OutboxItem
from store.pacing import Claim, PaceBudget
from store.unit import Unit
from tests import activities as act
from tests.conftest import Bridge, BridgeFactory, open_chat, setup_room
from tests.connector_emulator import Fault
from tests.connector_limits import ThreadLimits
from tests.posts import lines, post_keys, posts
from tests.test_delivery import OWNER, audit, owned_chat, relay

# A first send slow enough (well within the time-out) for the next lines to queue behind it.
SLOW_FIRST = 1.0
SETTINGS = {"send_timeout": 2.0, "retry_base_delay": 0.05, "sweep_interval": 0.1}


def customers_lines(bridge: Bridge, conversation: str, sent: list[str]) -> bool:
    return set(sent) <= set(lines(bridge.connector, conversation))


async def test_a_5xx_in_the_middle_of_a_coalesced_post(start_bridge: BridgeFactory) -> None:
    bridge = await start_bridge(**SETTINGS)
    chat = await owned_chat(bridge, "cust-coalesce-5xx")
    path = f"/{chat.conversation}/"
    bridge.connector.add_fault(Fault(method="POST", path_contains=path, delay=SLOW_FIRST))
    bridge.connector.add_fault(Fault(method="POST", path_contains=path, status=503, times=2))
    sent = [f"line {n}" for n in range(6)]
    await relay(bridge, chat, sent)
    await bridge.connector.wait_for(
        lambda: customers_lines(bridge, chat.conversation, sent), timeout=20
    )
    await bridge.settled()
    got = posts(bridge.connector, chat.conversation)
    assert audit(sent, got) == (0, 0)
    assert lines(bridge.connector, chat.conversation)[-len(sent) :] == sent
    refused = [
        post_keys(call.body)
        for call in bridge.connector.calls
        if call.conversation_id == chat.conversation and call.status == 503 and call.body
    ]
    coalesced = [post.keys for post in got if len(post.keys) > 1]
    # The lines that waited went as one post; both refusals and the success carried the
    # same rows, so nothing was split, lost or sent twice.
    assert len(coalesced) == 1
    assert refused == [coalesced[0], coalesced[0]]


async def test_a_lost_answer_repeats_the_post_with_the_same_ids(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge(**SETTINGS)
    chat = await owned_chat(bridge, "cust-coalesce-lost")
    path = f"/{chat.conversation}/"
    bridge.connector.add_fault(Fault(method="POST", path_contains=path, delay=SLOW_FIRST))
    # The connector takes the coalesced post but answers after the bridge gave up waiting.
    bridge.connector.add_fault(Fault(method="POST", path_contains=path, delay=3.0))
    sent = [f"answer {n}" for n in range(5)]
    await relay(bridge, chat, sent)
    await bridge.connector.wait_for(
        lambda: sum(len(p.keys) > 1 for p in posts(bridge.connector, chat.conversation)) == 2,
        timeout=20,
    )
    await bridge.settled()
    got = posts(bridge.connector, chat.conversation)
    lost, repeats = audit(sent, got)
    assert (lost, repeats) == (0, 1)
    first, again = [post for post in got if len(post.keys) > 1]
    assert first.keys == again.keys and first.lines == again.lines


async def test_two_replicas_pace_one_channel(start_bridge: BridgeFactory) -> None:
    """The connector answers 429 above Teams' limits counted per channel; customers write
    through both replicas, whose sends share the channel's budget in the database."""
    replicas = [await start_bridge(pace_margin=0.3) for _ in range(2)]
    first = replicas[0]
    limits = ThreadLimits(per_channel=True)
    first.connector.limits = limits
    await setup_room(first)
    chats = [
        await open_chat(replicas[n % 2], f"cust-pace-{n}", "hello", locale="en-US")
        for n in range(3)
    ]
    sent = {chat.customer: [f"{chat.customer} line {k}" for k in range(8)] for chat in chats}

    async def write(customer: str) -> None:
        for k, text in enumerate(sent[customer]):
            activity = act.webchat_message(first.service_url, customer, text, locale="en-US")
            assert (await replicas[k % 2].post(activity)).status == 201

    await asyncio.gather(*(write(chat.customer) for chat in chats))

    def said(thread: str) -> list[str]:
        return [
            line.split(":** ", 1)[1]
            for line in lines(first.connector, thread)
            if line.startswith("**") and ":** " in line
        ]

    for chat in chats:
        await first.connector.wait_for(
            lambda chat=chat: len(said(chat.thread)) >= len(sent[chat.customer]), timeout=30
        )
    for replica in replicas:
        await replica.settled()
    for chat in chats:
        assert said(chat.thread) == sent[chat.customer]
    assert limits.throttled == 0


async def test_a_card_update_overtaken_by_a_newer_one_is_not_sent(
    start_bridge: BridgeFactory,
) -> None:
    """Two tag changes wait behind a slow post in the chat's thread: the card is updated
    once, to its newest version; the older update is settled without a call."""
    bridge = await start_bridge(**SETTINGS)
    chat = await owned_chat(bridge, "cust-card")
    supervisor = act.agent(1, "Supervisor Mai")
    tags = act.room_message(bridge.service_url, supervisor, "tags add billing refund")
    assert (await bridge.post(tags)).status == 201
    await bridge.settled()
    before = len(bridge.connector.updates(chat.thread, chat.card_id))
    bridge.connector.add_fault(Fault(method="POST", path_contains=chat.thread, delay=SLOW_FIRST))
    line = act.webchat_message(bridge.service_url, chat.customer, "are you there?")
    assert (await bridge.post(line)).status == 201
    for tag in ("billing", "refund"):
        command = act.reply(bridge.service_url, OWNER, chat.thread, f"/tag {tag}")
        assert (await bridge.post(command)).status == 201
    # Tagging says nothing in the thread: the card's newest version is what shows it.
    await bridge.connector.wait_for(
        lambda: any(
            "billing, refund" in json.dumps(u)
            for u in bridge.connector.updates(chat.thread, chat.card_id)[before:]
        ),
        timeout=20,
    )
    await bridge.settled()
    updates = bridge.connector.updates(chat.thread, chat.card_id)[before:]
    assert len(updates) == 1
    assert "billing, refund" in json.dumps(updates[0])
    async with bridge.app[keys.ENGINE].connect() as connection:
        overtaken = await connection.scalar(
            select(func.count(OutboxItem.id)).where(OutboxItem.last_error == "overtaken")
        )
    assert overtaken == 1


async def test_a_line_at_a_normal_pace_costs_no_claim_of_its_own(
    start_bridge: BridgeFactory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transaction that stores a customer's line also spends its budgets: the
    dispatcher sends it without asking the database again (on PostgreSQL while it has no
    grouped claim of its own under way, and once the budgets' rows are made: see
    ``store.handover.claim_budgets``)."""
    bridge = await start_bridge(**SETTINGS)
    chat = await owned_chat(bridge, "cust-steady")
    await bridge.settled()
    asked: list[int] = []
    pace = dispatch.pace

    async def counted(
        tx: Unit, claims: Sequence[Claim], now: float, headroom: float, within: float = 0.0
    ) -> list[tuple[float, bool]]:
        asked.append(len(claims))
        return await pace(tx, claims, now, headroom, within)

    monkeypatch.setattr(dispatch, "pace", counted)
    sent = [f"steady {n}" for n in range(3)]
    for text in sent:
        line = act.webchat_message(bridge.service_url, chat.customer, text, locale="en-US")
        assert (await bridge.post(line)).status == 201
        await bridge.connector.wait_for(
            lambda text=text: any(text in line for line in lines(bridge.connector, chat.thread)),
            timeout=10,
        )
    await bridge.settled()
    assert asked == []
    async with bridge.app[keys.ENGINE].connect() as connection:
        spent = await connection.scalar(
            select(PaceBudget.stamps).where(PaceBudget.key == f"conv:{chat.thread}")
        )
    # The card, its update on Accept, and the three lines.
    assert spent is not None and len(json.loads(spent)) >= len(sent)
