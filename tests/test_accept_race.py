"""The Accept race: many agents press Accept on one card at once; exactly one wins."""

from __future__ import annotations

import asyncio

import pytest

from tests import activities as act
from tests.conftest import Bridge, BridgeFactory, open_chat, setup_room

CONTENDERS = 20


async def _race(replicas: list[Bridge], *, by_invoke: bool) -> None:
    first = replicas[0]
    await setup_room(first)
    chat = await open_chat(first, "cust-race", "Who takes me?", locale="en-US")
    agents = [act.agent(100 + n, f"Racer {n}") for n in range(CONTENDERS)]
    data = {"action": "accept", "chat": chat.chat_id}

    async def press(n: int, who: act.Agent):
        bridge = replicas[n % len(replicas)]
        if by_invoke:
            return await bridge.post(
                act.invoke_action(bridge.service_url, who, chat.thread, "accept", data)
            )
        return await bridge.post(
            act.room_message(bridge.service_url, who, "", thread=chat.thread, value=data)
        )

    responses = await asyncio.gather(*(press(n, who) for n, who in enumerate(agents)))
    for replica in replicas:
        await replica.settled()
    connector = first.connector
    # One winner: the customer hears of exactly one agent, the card names the same one.
    joined = connector.texts(chat.conversation)[1:]
    assert len(joined) == 1, joined
    # Exact names: "Racer 1" is also a prefix of "Racer 12".
    winner = next(a for a in agents if joined[0].startswith(f"{a.name} has joined"))
    cards = connector.updates(chat.thread, chat.card_id)
    assert len(cards) == 1
    assert f"{winner.name} is helping" in str(cards[0])
    losers = [a for a in agents if a != winner]
    if by_invoke:
        bodies = [await r.json() for r in responses]
        assert all(r.status == 200 for r in responses)
        too_late = [b for b in bodies if "Too late" in str(b["value"])]
        assert len(too_late) == CONTENDERS - 1
        assert all(f"{winner.name} already accepted" in str(b["value"]) for b in too_late)
    else:
        told = [
            a["entities"][0]["mentioned"]["id"]
            for a in connector.activities(chat.thread)
            if a.get("entities")
        ]
        assert sorted(told) == sorted(a.id for a in losers)


@pytest.mark.parametrize("by_invoke", [True, False], ids=["execute", "submit"])
async def test_twenty_agents_one_winner(bridge: Bridge, by_invoke: bool) -> None:
    await _race([bridge], by_invoke=by_invoke)


@pytest.mark.parametrize("by_invoke", [True, False], ids=["execute", "submit"])
async def test_two_replicas_sharing_one_database(
    start_bridge: BridgeFactory, by_invoke: bool
) -> None:
    replicas = [await start_bridge(), await start_bridge()]
    await _race(replicas, by_invoke=by_invoke)
