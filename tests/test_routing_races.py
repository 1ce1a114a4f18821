"""Routing's checks cannot go stale on PostgreSQL: two replicas share the database, and
a change committed by one between the other's check and its UPDATE is seen by that
UPDATE, because the precondition is in its WHERE, not only in the read before it.

The interleaving is forced at the database: the test holds a lock that the acting
replica's unit meets after its check (its inbound key, or the agent's row), lets the
other replica commit its change meanwhile, and then releases the lock. SQLite
serializes writers in the process, so these runs are PostgreSQL's only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot import keys
from dialogs.activity import activity_keys
from store.core import utc_now
from store.models import Agent, Chat, Department, InboundActivity
from tests import activities as act
from tests.conftest import Bridge, BridgeFactory, OpenChat, engine_name, open_chat, setup_room
from tests.test_routing import SALES, created_after, in_room, say, two_departments


async def replicas(start_bridge: BridgeFactory) -> tuple[Bridge, Bridge]:
    first = await start_bridge()
    if engine_name(first) != "postgresql":
        pytest.skip("SQLite serializes writers in the process: no interleaving to force")
    return first, await start_bridge()


async def waiting_on_locks(engine: AsyncEngine, count: int) -> None:
    """Until ``count`` sessions of this database wait for a lock (the replicas' units)."""
    deadline = asyncio.get_running_loop().time() + 10
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while True:
        async with engine.connect() as connection:
            if await connection.scalar(query) >= count:
                return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"fewer than {count} sessions came to wait for the lock")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def holding(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction of the test's own, rolled back at the end (its locks released)."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            await transaction.rollback()


async def department_of(bridge: Bridge, chat: OpenChat) -> str:
    async with bridge.app[keys.ENGINE].connect() as connection:
        return await connection.scalar(
            select(Department.name)
            .join(Chat, Chat.department_id == Department.id)
            .where(Chat.public_id == chat.chat_id)
        )


async def move_with_change_between(
    first: Bridge, mover: act.Agent, change: Callable[[], Awaitable[None]]
) -> OpenChat:
    """``mover`` moves a waiting Support chat to Sales on ``first``; its unit waits at
    the move's inbound key (held by the test) until ``change`` has run and committed."""
    await say(first, "c-race-move", "Hi", locale="en-US")
    await say(first, "c-race-move", "Support", locale="en-US")
    chat = await created_after(first, 0)
    engine = first.app[keys.ENGINE]
    move = act.room_message(first.service_url, mover, "move Sales", thread=chat.thread)
    async with holding(engine) as held:
        await held.execute(
            insert(InboundActivity).values(key=activity_keys(move)[0], received_at=utc_now())
        )
        moving = asyncio.create_task(first.post(move))
        await waiting_on_locks(engine, 1)
        await change()
    assert (await moving).status == 201
    await first.settled()
    return chat


async def test_a_supervisor_demoted_after_the_check_does_not_move_the_chat(
    start_bridge: BridgeFactory,
) -> None:
    first, second = await replicas(start_bridge)
    mai, _ = await two_departments(first)
    tuan = act.agent(7, "Tuan")
    await in_room(first, mai, f"supervisor add @{tuan.name}", mentions=(tuan,))

    async def demote() -> None:
        # On the other replica, Tuan removes Mai as a supervisor of Support.
        await in_room(second, tuan, f"supervisor remove @{mai.name}", mentions=(mai,))

    # Mai's check passed (she supervised Support); her UPDATE comes after the demotion.
    chat = await move_with_change_between(first, mai, demote)
    assert await department_of(first, chat) == "Support"
    assert not [c for c in first.connector.created() if c.conversation_id.startswith(SALES)]
    assert "only a supervisor" in first.connector.texts(chat.thread)[-1]


async def test_the_held_move_goes_ahead_when_nothing_changed(
    start_bridge: BridgeFactory,
) -> None:
    """The forced interleaving alone refuses nothing: with no demotion, the move goes."""
    first, second = await replicas(start_bridge)
    mai, _ = await two_departments(first)

    async def look() -> None:
        await in_room(second, mai, "who")

    chat = await move_with_change_between(first, mai, look)
    assert await department_of(first, chat) == "Sales"


def waiting_notices(bridge: Bridge, thread: str) -> list[dict[str, Any]]:
    return [
        a for a in bridge.connector.activities(thread) if "customer is waiting" in a.get("text", "")
    ]


async def test_coming_online_on_two_replicas_at_once_tells_the_waiting_chats_once(
    start_bridge: BridgeFactory,
) -> None:
    first, second = await replicas(start_bridge)
    await setup_room(first)
    an = act.agent(2, "An")
    await in_room(first, an, "away")
    chat = await open_chat(first, "c-race-online", "Anyone?", locale="en-US")
    engine = first.app[keys.ENGINE]
    async with holding(engine) as held:
        # Both units come to An's row, locked here, in the UPDATE that says "came online".
        await held.execute(select(Agent.id).where(Agent.teams_id == an.id).with_for_update())
        saying = [
            asyncio.create_task(bridge.post(act.room_message(bridge.service_url, an, "online")))
            for bridge in (first, second)
        ]
        await waiting_on_locks(engine, 2)
    assert [(await said).status for said in saying] == [201, 201]
    await first.settled()
    await second.settled()
    [told] = waiting_notices(first, chat.thread)
    assert told["entities"][0]["mentioned"]["id"] == an.id
    # Both were confirmed where An wrote.
    assert len([t for t in first.connector.texts(act.ROOM) if "now **online**" in t]) == 2
