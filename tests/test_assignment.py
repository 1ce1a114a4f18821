"""Automatic assignment over HTTP: round robin within capacity, the queue and its
notices, an offer moving on when its time runs out, least busy, and two replicas
assigning at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from sqlalchemy import event, func, select

from bot import keys
from store.models import Agent, Chat, ChatState
from tests import activities as act
from tests.conftest import (
    Bridge,
    BridgeFactory,
    ManualClock,
    OpenChat,
    accept,
    go_online,
    open_chat,
    setup_room,
)
from tests.test_bridge import card_text
from tests.test_team import offer_of, press, say

AGENTS = [act.agent(10 + n, f"Agent {name}") for n, name in enumerate(("An", "Bình", "Chi"))]


async def in_room(bridge: Bridge, who: act.Agent, text: str) -> None:
    response = await bridge.post(act.room_message(bridge.service_url, who, text))
    assert response.status == 201
    await bridge.settled()


async def automatic_room(bridge: Bridge, mode: str, capacity: int) -> None:
    """A room whose supervisor set ``mode`` and ``capacity``, with three agents online."""
    room = await setup_room(bridge)
    await in_room(bridge, room.supervisor, f"capacity {capacity}")
    await in_room(bridge, room.supervisor, f"assignment {mode}")
    assert "one online agent at a time" in bridge.connector.texts(act.ROOM)[-1] or (
        mode != "round_robin"
    )
    for who in AGENTS:
        await go_online(bridge, who)


def offers(bridge: Bridge, chat: OpenChat) -> list[str]:
    """Whom the chat was offered to, in order (the thread's mentions of an assignment)."""
    return [
        a["entities"][0]["mentioned"]["id"]
        for a in bridge.connector.activities(chat.thread)
        if "assigned to you" in a.get("text", "") and a.get("entities")
    ]


def agent_of(teams_id: str) -> act.Agent:
    return next(a for a in AGENTS if a.id == teams_id)


async def owners(bridge: Bridge) -> Counter[str]:
    async with bridge.app[keys.ENGINE].connect() as connection:
        rows = await connection.execute(
            select(Agent.teams_id, func.count(Chat.id))
            .join(Chat, Chat.owner_id == Agent.id)
            .where(Chat.state == ChatState.ACTIVE)
            .group_by(Agent.teams_id)
        )
        return Counter({teams_id: count for teams_id, count in rows})


async def take_offered(bridge: Bridge, chat: OpenChat) -> act.Agent:
    """The agent the chat was last offered to accepts it."""
    who = agent_of(offers(bridge, chat)[-1])
    await accept(bridge, chat, who)
    return who


async def test_round_robin_fills_capacity_then_queues(start_bridge: BridgeFactory) -> None:
    bridge = await start_bridge(queue_notice_seconds=0)
    await automatic_room(bridge, "round_robin", 2)
    chats = [await open_chat(bridge, f"cust-rr-{n}", "Hello", locale="en-US") for n in range(6)]
    order = [offers(bridge, chat) for chat in chats]
    assert all(len(o) == 1 for o in order), order
    # In turn: An, Bình, Chi, An, Bình, Chi.
    assert [o[0] for o in order] == [a.id for a in AGENTS] * 2
    for chat in chats:
        await take_offered(bridge, chat)
    assert await owners(bridge) == Counter({a.id: 2 for a in AGENTS})
    # The card said whose it was while the offer waited.
    assert any(
        "Assigned to Agent An: accept within 30 s" in str(u)
        for u in bridge.connector.updates(chats[0].thread, chats[0].card_id)
    )

    seventh = await open_chat(bridge, "cust-rr-7", "Anyone?", locale="en-US")
    assert offers(bridge, seventh) == []
    told = bridge.connector.texts(seventh.conversation)
    assert any("You are number 1 in the queue" in text for text in told), told
    eighth = await open_chat(bridge, "cust-rr-8", "Me too", locale="en-US")
    assert any("number 2 in the queue" in t for t in bridge.connector.texts(eighth.conversation))

    # Bình closes a chat: the queue's head is offered to Bình, its customer hears it, and
    # the next customer in the queue hears their new place.
    closer = AGENTS[1]
    closed = chats[1]
    response = await bridge.post(
        act.room_message(bridge.service_url, closer, "close", thread=closed.thread)
    )
    assert response.status == 201
    await bridge.settled()
    assert offers(bridge, seventh) == [closer.id]
    assert "It is your turn" in bridge.connector.texts(seventh.conversation)[-1]
    assert "now number 1 in the queue" in bridge.connector.texts(eighth.conversation)[-1]
    await accept(bridge, seventh, closer)
    assert await owners(bridge) == Counter({a.id: 2 for a in AGENTS})


async def test_an_offer_not_taken_in_time_goes_to_the_next_agent(
    start_bridge: BridgeFactory, clock: ManualClock
) -> None:
    bridge = await start_bridge(clock=clock, timer_interval=0.05, assignment_offer_seconds=1)
    await automatic_room(bridge, "round_robin", 2)
    chat = await open_chat(bridge, "cust-late", "Hello", locale="en-US")
    assert offers(bridge, chat) == [AGENTS[0].id]
    # While the offer runs, nobody else may take the chat.
    data = {"action": "accept", "chat": chat.chat_id}
    pressed = await bridge.post(
        act.invoke_action(bridge.service_url, AGENTS[2], chat.thread, "accept", data)
    )
    assert "Offered to Agent An for now" in str(await pressed.json())
    assert await owners(bridge) == Counter()
    clock.advance(1.5)
    await bridge.connector.wait_for(lambda: len(offers(bridge, chat)) == 2)
    await bridge.settled()
    assert offers(bridge, chat) == [AGENTS[0].id, AGENTS[1].id]
    # The first agent's Accept comes too late; the second takes it.
    await accept(bridge, chat, AGENTS[0])
    assert await owners(bridge) == Counter()
    await accept(bridge, chat, AGENTS[1])
    assert await owners(bridge) == Counter({AGENTS[1].id: 1})


async def test_least_busy_offers_the_least_loaded(bridge: Bridge) -> None:
    await automatic_room(bridge, "broadcast", 3)
    # Under broadcast, An takes two chats and Bình one.
    for n, who in enumerate((AGENTS[0], AGENTS[0], AGENTS[1])):
        chat = await open_chat(bridge, f"cust-lb-{n}", "Hello", locale="en-US")
        assert offers(bridge, chat) == []
        await accept(bridge, chat, who)
    await in_room(bridge, act.agent(1, "Supervisor Mai"), "assignment least_busy")
    first = await open_chat(bridge, "cust-lb-new", "Hello", locale="en-US")
    assert offers(bridge, first) == [AGENTS[2].id]
    await accept(bridge, first, AGENTS[2])
    second = await open_chat(bridge, "cust-lb-next", "Hello", locale="en-US")
    assert offers(bridge, second) in ([AGENTS[1].id], [AGENTS[2].id])


async def test_two_replicas_assigning_at_once(start_bridge: BridgeFactory) -> None:
    """Twelve chats opened at once on two replicas, two agents of capacity 2: each chat is
    offered to one agent at most, and nobody is offered more than two."""
    # On SQLite a replica hears no other's commits: its slow sweep takes what they left.
    replicas = [await start_bridge(sweep_interval=0.05), await start_bridge(sweep_interval=0.05)]
    first = replicas[0]
    await automatic_room(first, "round_robin", 2)

    async def write(n: int) -> None:
        replica = replicas[n % 2]
        response = await replica.post(
            act.webchat_message(replica.service_url, f"cust-race-{n}", "Hi", locale="en-US")
        )
        assert response.status == 201

    await asyncio.gather(*(write(n) for n in range(12)))
    # Each answer came after its chat's assignment committed: the rows decide.
    async with first.app[keys.ENGINE].connect() as connection:
        offered = (
            await connection.execute(
                select(Chat.offered_to_id, func.count(Chat.id))
                .where(Chat.offered_to_id.is_not(None))
                .group_by(Chat.offered_to_id)
            )
        ).all()
    loads = dict(offered)
    assert all(count <= 2 for count in loads.values()), loads
    assert sum(loads.values()) == 6  # three agents, two seats each
    for replica in replicas:
        await replica.settled()
    mentioned = [
        a["entities"][0]["mentioned"]["id"]
        for created in first.connector.created()
        for a in first.connector.activities(created.conversation_id)
        if "assigned to you" in a.get("text", "")
    ]
    assert Counter(mentioned) == Counter({a.id: 2 for a in AGENTS})


async def test_the_offer_timer_looks_seldom_while_no_offer_is_due(
    start_bridge: BridgeFactory, clock: ManualClock
) -> None:
    """With no offer due, the timers look only at their idle pace (one statement names
    what is due next, every 15 intervals), never every tick; a made offer is taken on
    when it is due."""
    bridge = await start_bridge(clock=clock, timer_interval=0.02, assignment_offer_seconds=5)
    await automatic_room(bridge, "round_robin", 2)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "offer_expires_at" in statement:
            seen.append(statement)

    engine = bridge.app[keys.ENGINE].sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        await asyncio.sleep(0.6)  # some thirty ticks: two idle looks at most, and a margin
        assert len(seen) <= 3, seen
        chat = await open_chat(bridge, "cust-idle", "Hello", locale="en-US")
        seen.clear()
        await asyncio.sleep(0.6)
        assert len([s for s in seen if "SELECT" in s]) <= 3  # not due yet: seldom read
        clock.advance(6)
        await bridge.connector.wait_for(lambda: len(offers(bridge, chat)) == 2)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    await bridge.settled()


async def test_an_agent_passes_an_offer_to_the_next(bridge: Bridge) -> None:
    await automatic_room(bridge, "round_robin", 2)
    chat = await open_chat(bridge, "cust-pass", "Hello", locale="en-US")
    assert offers(bridge, chat) == [AGENTS[0].id]
    # Only the agent it is offered to can pass it on.
    other = act.room_message(bridge.service_url, AGENTS[2], "/pass", thread=chat.thread)
    assert (await bridge.post(other)).status == 201
    await bridge.settled()
    assert "not offered to you" in bridge.connector.texts(chat.thread)[-1]
    mine = act.room_message(bridge.service_url, AGENTS[0], "/pass", thread=chat.thread)
    assert (await bridge.post(mine)).status == 201
    await bridge.settled()
    assert offers(bridge, chat) == [AGENTS[0].id, AGENTS[1].id]
    await accept(bridge, chat, AGENTS[1])
    assert await owners(bridge) == Counter({AGENTS[1].id: 1})


async def test_nobody_online_then_an_agent_comes_online(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    await in_room(bridge, room.supervisor, "assignment least_busy")
    chat = await open_chat(bridge, "cust-alone", "Hello", locale="en-US")
    told = bridge.connector.texts(chat.conversation)
    # Honest about nobody being online; no queue place while there is nobody to wait for.
    assert any("Nobody from" in text for text in told), told
    assert not any("queue" in text for text in told), told
    assert offers(bridge, chat) == []
    # An agent in the room (a member) comes online: the waiting chat is offered to them.
    await in_room(bridge, AGENTS[0], "away")
    await in_room(bridge, AGENTS[0], "online")
    assert offers(bridge, chat) == [AGENTS[0].id]


async def test_a_transfer_frees_a_seat_for_the_queue(bridge: Bridge) -> None:
    await automatic_room(bridge, "round_robin", 1)
    chats = [await open_chat(bridge, f"cust-tr-{n}", "Hello", locale="en-US") for n in range(3)]
    for chat in chats:
        await take_offered(bridge, chat)
    queued = await open_chat(bridge, "cust-tr-q", "Anyone?", locale="en-US")
    assert offers(bridge, queued) == []
    an, binh = AGENTS[0], AGENTS[1]
    await say(bridge, chats[0], an, f"/transfer @{binh.name}", binh)
    taken = await press(bridge, chats[0], binh, "take", offer=offer_of(bridge, chats[0])["offer"])
    assert "The chat is yours now" in card_text(taken["value"])
    # An has a seat again: the queue's head is offered to them.
    assert offers(bridge, queued) == [an.id]
