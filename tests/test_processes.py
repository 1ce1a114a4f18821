"""Real processes: a bridge killed with SIGKILL mid-flight, and two replicas on one database."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from tests import activities as act
from tests.conftest import open_chat_body
from tests.connector_emulator import ConnectorEmulator
from tests.posts import lines, once
from tests.processes import BridgeProcess
from tests.reliability import record

PROCESS_ENV = {"SEND_TIMEOUT_SECONDS": "2", "OUTBOX_LEASE_SECONDS": "3"}


def engine(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


async def post(http: aiohttp.ClientSession, bridges: list[BridgeProcess], activity: dict) -> int:
    """POST like a channel does: on a connection failure, deliver the same activity again
    (to whichever replica serves the endpoint by then)."""
    for _ in range(100):
        try:
            url = f"{random.choice(bridges).url}/api/messages"
            async with http.post(url, json=activity) as response:
                await response.read()
                return response.status
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)
    raise AssertionError("the bridge never answered")


async def make_chats(
    http: aiohttp.ClientSession,
    bridges: list[BridgeProcess],
    connector: ConnectorEmulator,
    count: int,
) -> list[dict]:
    """Set up the room and open ``count`` chats, each accepted by its own agent."""
    url = connector.url
    assert await post(http, bridges[:1], act.room_message(url, act.agent(1), "setup")) == 201
    await connector.wait_for(lambda: len(connector.texts(act.ROOM)) == 1, timeout=20)
    chats = []
    for n in range(count):
        customer = f"proc-cust-{n}"
        assert (
            await post(
                http, bridges, act.webchat_message(url, customer, f"open {n}", locale="en-US")
            )
            == 201
        )
        await connector.wait_for(lambda n=n: len(connector.created()) > n, timeout=20)
        chats.append(
            {
                "customer": customer,
                "conversation": f"conv-{customer}",
                **open_chat_body(connector.created()[n]),
            }
        )
    return chats


def key_repeats(connector: ConnectorEmulator) -> int:
    keys = Counter(
        call.body["channelData"]["bridgeDeliveryId"]
        for call in connector.calls
        if call.status
        and call.status < 300
        and call.body
        and call.method == "POST"
        and "bridgeDeliveryId" in (call.body.get("channelData") or {})
    )
    return sum(n - 1 for n in keys.values())


async def test_sigkill_mid_flight_loses_nothing(database_url: str, tmp_path: Path) -> None:
    connector = ConnectorEmulator(latency=0.05)
    await connector.start()
    first = BridgeProcess(database_url, tmp_path / "first.log", **PROCESS_ENV)
    second = BridgeProcess(database_url, tmp_path / "second.log", **PROCESS_ENV)
    try:
        await first.start()
        async with aiohttp.ClientSession() as http:
            chats = await make_chats(http, [first], connector, 5)
            owners = [act.agent(200 + n, f"Owner {n}") for n in range(len(chats))]
            for chat, owner in zip(chats, owners, strict=True):
                data = {"action": "accept", "chat": chat["chat"]}
                invoke = act.invoke_action(connector.url, owner, chat["thread"], "accept", data)
                assert await post(http, [first], invoke) == 200
            sent = {c["conversation"]: [f"{c['customer']} #{m}" for m in range(12)] for c in chats}

            async def talk(chat: dict, owner: act.Agent, target: list[BridgeProcess]) -> None:
                for text in sent[chat["conversation"]]:
                    reply = act.room_message(
                        connector.url, owner, text, thread=chat["thread"], mention_bot=False
                    )
                    await post(http, target, reply)

            target = [first]
            talking = [
                asyncio.create_task(talk(c, o, target)) for c, o in zip(chats, owners, strict=True)
            ]
            await connector.wait_for(lambda: connector.delivered_count() > 25, timeout=20)
            first.kill()
            await second.start()
            target[0] = second
            await asyncio.gather(*talking)
            for conversation, texts in sent.items():
                await connector.wait_for(
                    lambda c=conversation, t=texts: set(t) <= set(lines(connector, c)), timeout=30
                )
        # Every message arrived, in order; a repeat is possible only for a send that was in
        # flight at the kill (at most one per chat), and it carries the same delivery keys.
        repeats = 0
        for conversation, texts in sent.items():
            got, repeated = once(connector, conversation)
            assert [t for t in got if t in texts] == texts
            assert repeated <= 1
            repeats += repeated
        assert repeats <= len(chats)
        record(
            "crash",
            "SIGKILL with 60 replies in flight, then restart",
            engine(database_url),
            "all 60 delivered in order; a send the connector took just before the kill is "
            "sent again after the restart (at most one per chat, same delivery key)",
            lost=0,
            twice=repeats,
        )
    finally:
        first.kill()
        second.stop()
        await connector.stop()


async def test_two_processes_share_the_work_exactly_once(database_url: str, tmp_path: Path) -> None:
    connector = ConnectorEmulator()
    await connector.start()
    bridges = [
        BridgeProcess(database_url, tmp_path / f"replica-{n}.log", **PROCESS_ENV) for n in range(2)
    ]
    try:
        for bridge in bridges:
            await bridge.start()
        async with aiohttp.ClientSession() as http:
            chats = await make_chats(http, bridges, connector, 12)
            agents = [act.agent(300 + n, f"Agent {n}") for n in range(4)]
            presses = [
                act.invoke_action(
                    connector.url,
                    agent,
                    chat["thread"],
                    "accept",
                    {"action": "accept", "chat": chat["chat"]},
                )
                for chat in chats
                for agent in agents
            ]
            random.shuffle(presses)
            statuses = await asyncio.gather(*(post(http, bridges, p) for p in presses))
            assert set(statuses) == {200}
            owners = {}
            for chat in chats:
                await connector.wait_for(
                    lambda c=chat: any("joined" in t for t in connector.texts(c["conversation"])),
                    timeout=20,
                )
                joined = [t for t in connector.texts(chat["conversation"]) if "joined" in t]
                assert len(joined) == 1, joined
                owners[chat["conversation"]] = next(
                    a for a in agents if joined[0].startswith(f"{a.name} has joined")
                )

            async def both_ways(chat: dict) -> None:
                owner = owners[chat["conversation"]]
                for m in range(5):
                    customer = act.webchat_message(
                        connector.url, chat["customer"], f"c{m}", locale="en-US"
                    )
                    agent = act.room_message(
                        connector.url, owner, f"a{m}", thread=chat["thread"], mention_bot=False
                    )
                    await post(http, bridges, customer)
                    await post(http, bridges, agent)

            await asyncio.gather(*(both_ways(chat) for chat in chats))
            for chat in chats:
                await connector.wait_for(
                    lambda c=chat: (
                        len([t for t in lines(connector, c["conversation"]) if t.startswith("a")])
                        >= 5
                        and len(lines(connector, c["thread"])) >= 5
                    ),
                    timeout=30,
                )
        await asyncio.sleep(0.5)
        for chat in chats:
            to_customer = [t for t in lines(connector, chat["conversation"]) if t[:1] == "a"]
            to_thread = [t.split(":** ", 1)[1] for t in lines(connector, chat["thread"])]
            assert to_customer == [f"a{m}" for m in range(5)]
            assert to_thread == [f"c{m}" for m in range(5)]
        assert key_repeats(connector) == 0
        record(
            "replicas",
            "2 processes, 12 chats, 48 Accepts and 120 messages spread at random",
            engine(database_url),
            "each chat claimed once; every message relayed once, in order",
            lost=0,
            twice=0,
        )
    finally:
        for bridge in bridges:
            bridge.stop()
        await connector.stop()


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(20261123)
