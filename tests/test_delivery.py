"""Durable delivery: every fault the connector can throw ends with each message delivered
once and in order (or, for a final refusal, recorded)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import keys
from store.models import DeliveryState, OutboxItem
from tests import activities as act
from tests.conftest import Area, Bridge, BridgeFactory, OpenChat, accepted_chat, setup_room
from tests.connector_emulator import ConnectorEmulator, Fault
from tests.posts import Post, lines, posts

FAST_RETRIES = {
    "send_timeout": 0.5,
    "retry_base_delay": 0.05,
    "retry_max_delay": 1.0,
    "sweep_interval": 0.1,
}
OUTBOUND_FAULT = Area("outbound fault")
OWNER = act.agent(40, "Owner")


@pytest.fixture
async def bridge(start_bridge: BridgeFactory) -> Bridge:
    """Every bridge here times out and retries fast, so faults play out within a test."""
    return await start_bridge(**FAST_RETRIES)


def deliveries(connector: ConnectorEmulator, conversation: str) -> list[Post]:
    """Successful sends to one conversation, in order of receipt, with their delivery keys
    (a post of several waiting lines lists them all)."""
    return posts(connector, conversation)


def audit(sent: list[str], got: list[Post]) -> tuple[int, int]:
    """(lost, repeats): a repeat is the post just before it again, with the same keys."""
    unique: list[Post] = []
    repeats = 0
    for post in got:
        if unique and post.keys == unique[-1].keys:
            repeats += 1
            continue
        seen = {key for earlier in unique for key in earlier.keys}
        assert not seen & set(post.keys), "a repeat out of order"
        unique.append(post)
    texts = [line for post in unique for line in post.lines if line in sent]
    assert texts == [t for t in sent if t in texts], f"order broken: {texts}"
    return len(set(sent) - set(texts)), repeats


async def owned_chat(bridge: Bridge, customer: str) -> OpenChat:
    """A chat accepted by ``OWNER``, whose replies ``relay`` sends."""
    return await accepted_chat(bridge, customer, "Hello", OWNER, locale="en-US")


async def relay(bridge: Bridge, chat: OpenChat, texts: list[str]) -> None:
    for text in texts:
        response = await bridge.post(act.reply(bridge.service_url, OWNER, chat.thread, text))
        assert response.status == 201


FAULTS = {
    "429 with Retry-After: 1, twice": Fault(status=429, retry_after=1, times=2),
    "503 three times": Fault(status=503, times=3),
    "500 once": Fault(status=500, times=1),
    "dropped connection, twice": Fault(drop=True, times=2),
    "answer slower than the client time-out": Fault(delay=1.5, times=1),
}


@pytest.mark.parametrize("name", list(FAULTS))
async def test_faults_to_the_customer_end_delivered_once_in_order(
    bridge: Bridge, name: str
) -> None:
    chat = await owned_chat(bridge, "cust-fault")
    fault = FAULTS[name]
    bridge.connector.add_fault(
        Fault(**{**fault.__dict__, "path_contains": f"/{chat.conversation}/", "method": "POST"})
    )
    sent = [f"reply {n} ✓" for n in range(5)]
    await relay(bridge, chat, sent)
    await bridge.connector.wait_for(
        lambda: set(sent) <= set(lines(bridge.connector, chat.conversation)), timeout=20
    )
    await bridge.settled()
    if fault.delay:
        # The connector is still sitting on the first attempt; wait until it has answered
        # (the acknowledgement, "joined", the replies and the one repeat).
        await bridge.connector.wait_for(
            lambda: (
                sum(len(p.lines) for p in deliveries(bridge.connector, chat.conversation))
                == len(sent) + 3
            )
        )
    lost, repeats = audit(sent, deliveries(bridge.connector, chat.conversation))
    assert lost == 0
    # Only a time-out after the connector took the message can make it arrive twice,
    # and then with the same delivery key.
    assert repeats == (1 if fault.delay else 0)
    if fault.retry_after:
        faulted = [c.at for c in bridge.connector.calls if c.status == 429]
        first_ok = next(
            c.at
            for c in bridge.connector.calls
            if c.conversation_id == chat.conversation and c.status == 200 and c.at > faulted[-1]
        )
        assert first_ok - faulted[-1] >= 0.9, "Retry-After was not honoured"
    outcome = f"retried; {len(sent)} delivered in order"
    if repeats:
        outcome += f"; {repeats} repeat with the same delivery key (answer lost after the send)"
    OUTBOUND_FAULT.record(bridge, name, outcome, lost=lost, twice=repeats)


async def test_final_refusal_is_recorded_and_the_lane_goes_on(bridge: Bridge) -> None:
    chat = await owned_chat(bridge, "cust-400")
    bridge.connector.add_fault(Fault(status=400, path_contains=f"/{chat.conversation}/", times=1))
    sent = ["refused one", "second", "third"]
    await relay(bridge, chat, sent)
    await bridge.connector.wait_for(
        lambda: "third" in lines(bridge.connector, chat.conversation), timeout=10
    )
    await bridge.settled()
    assert lines(bridge.connector, chat.conversation)[-2:] == ["second", "third"]
    async with bridge.app[keys.ENGINE].connect() as connection:
        failed = (
            await connection.execute(
                select(OutboxItem.attempts, OutboxItem.last_error).where(
                    OutboxItem.state == DeliveryState.FAILED
                )
            )
        ).all()
    assert len(failed) == 1 and failed[0].attempts == 1 and failed[0].last_error.startswith("400")
    OUTBOUND_FAULT.record(
        bridge,
        "400 (final)",
        "not retried; recorded as failed with the reason; later messages delivered in order",
    )


async def test_connector_down_then_up(bridge: Bridge) -> None:
    chat = await owned_chat(bridge, "cust-down")
    port = int(bridge.connector.url.rsplit(":", 1)[1].strip("/"))
    await bridge.connector.stop()
    sent = [f"while down {n}" for n in range(4)]
    await relay(bridge, chat, sent)
    assert await bridge.pending() == len(sent)
    restarted = ConnectorEmulator()
    await restarted.start(port=port)
    try:
        await restarted.wait_for(lambda: lines(restarted, chat.conversation) == sent, timeout=15)
        await bridge.settled()
        lost, repeats = audit(sent, deliveries(restarted, chat.conversation))
        assert (lost, repeats) == (0, 0)
    finally:
        await restarted.stop()
    OUTBOUND_FAULT.record(
        bridge,
        "connection refused (connector down), then up",
        "kept pending, delivered in order once the connector was back",
    )


async def first_message_despite(bridge: Bridge, customer: str, *faults: Fault) -> None:
    """A customer's first message while the connector suffers ``faults``: answered at once
    (201), whatever becomes of the calls it causes."""
    await setup_room(bridge)
    for fault in faults:
        bridge.connector.add_fault(fault)
    response = await bridge.post(act.webchat_message(bridge.service_url, customer, "first"))
    assert response.status == 201


async def test_thread_faults_keep_customer_messages_in_order(bridge: Bridge) -> None:
    await first_message_despite(
        bridge,
        "cust-order",
        Fault(status=503, path_contains="/v3/conversations", times=1, method="POST"),
        Fault(status=503, path_contains=";messageid=", times=3),
    )
    sent = [f"next {n}" for n in range(6)]
    for text in sent:
        await bridge.post(act.webchat_message(bridge.service_url, "cust-order", text))
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) == 1, timeout=10)
    thread = bridge.connector.created()[0].conversation_id
    await bridge.connector.wait_for(
        lambda: len(lines(bridge.connector, thread)) == len(sent), timeout=15
    )
    got = [t.split(":** ", 1)[1] for t in lines(bridge.connector, thread)]
    assert got == sent
    OUTBOUND_FAULT.record(
        bridge,
        "503 on thread creation and on thread posts",
        "card created on retry; customer messages posted after it, in order",
    )


async def test_a_slow_connector_does_not_delay_the_answer(bridge: Bridge) -> None:
    await first_message_despite(
        bridge, "cust-slow", Fault(delay=3.0, path_contains="/v3/conversations", times=5)
    )
    # The answer came back while the connector was still sitting on the bridge's calls.
    assert not bridge.connector.created()
    await bridge.connector.wait_for(lambda: bool(bridge.connector.created()), timeout=20)
    Area("fast acknowledgement").record(
        bridge,
        "connector answering after 3 s",
        "201 before any connector call finished; work continued from the outbox",
    )
