"""Agents' tools under contention on two replicas sharing one database: the unique index
and the typing throttle's upsert decide, not a read that another replica races past."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from bot import keys
from store.models import CannedAnswer
from tests import activities as act
from tests.conftest import BridgeFactory, ManualClock, setup_room
from tests.test_agent_tools import chat_with_owner, typings

CONTENDERS = 10


async def test_one_shortcut_added_at_once_on_two_replicas_is_saved_once(
    start_bridge: BridgeFactory,
) -> None:
    replicas = [await start_bridge(), await start_bridge()]
    room = await setup_room(replicas[0])
    lines = [
        act.room_message(replicas[0].service_url, room.supervisor, f"canned add hi Hello {n}")
        for n in range(CONTENDERS)
    ]
    posted = await asyncio.gather(*(replicas[n % 2].post(line) for n, line in enumerate(lines)))
    assert all(response.status == 201 for response in posted)
    for replica in replicas:
        await replica.settled()
    answers = replicas[0].connector.texts(act.ROOM)[1:]
    assert sum("**/hi** saved" in text for text in answers) == 1, answers
    assert sum("**/hi** already exists" in text for text in answers) == CONTENDERS - 1
    async with replicas[0].app[keys.ENGINE].begin() as connection:
        assert await connection.scalar(select(func.count()).select_from(CannedAnswer)) == 1


async def test_typing_on_two_replicas_at_once_is_passed_on_once(
    start_bridge: BridgeFactory, clock: ManualClock
) -> None:
    replicas = [await start_bridge(clock), await start_bridge(clock)]
    await setup_room(replicas[0])
    owner = act.agent(2, "Minh")
    chat = await chat_with_owner(replicas[0], "cust-race-typing", owner)
    service = replicas[0].service_url

    def customer_typing() -> dict[str, Any]:
        activity = act.webchat_message(service, "cust-race-typing", "", locale="en-US")
        activity["type"] = "typing"
        activity.pop("text")
        return activity

    def agent_typing() -> dict[str, Any]:
        activity = act.room_message(service, owner, "", thread=chat.thread)
        activity["type"] = "typing"
        activity.pop("text")
        activity.pop("entities")
        return activity

    for make, where in ((customer_typing, chat.thread), (agent_typing, chat.conversation)):
        posted = await asyncio.gather(*(replicas[n % 2].post(make()) for n in range(CONTENDERS)))
        assert all(response.status == 201 for response in posted)
        for replica in replicas:
            await replica.settled()
        assert typings(replicas[0], where) == 1, where
