"""Availability follows Teams presence (``PRESENCE_SYNC=graph``), against a local fake of
Microsoft Graph: read in batches with the app's token, typed availability holding
until the presence changes, an agent coming online told of the waiting chats."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot import keys
from store import presence
from store.models import Agent
from tests import activities as act
from tests.conftest import Bridge, BridgeFactory, ManualClock, go_online, open_chat, setup_room

MINH = act.agent(2, "Minh")


class FakeGraph:
    """The two endpoints the bridge calls: the token and getPresencesByUserId."""

    def __init__(self) -> None:
        self.presence: dict[str, str] = {}
        self.batches: list[list[str]] = []
        self.authorizations: list[str] = []
        self.tokens = 0

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        assert form["grant_type"] == "client_credentials"
        assert form["scope"] == "https://graph.microsoft.com/.default"
        self.tokens += 1
        return web.json_response({"access_token": "graph-token", "expires_in": 3600})

    async def presences(self, request: web.Request) -> web.Response:
        self.authorizations.append(request.headers.get("Authorization", ""))
        ids = (await request.json())["ids"]
        self.batches.append(ids)
        value = [
            {"id": i, "availability": self.presence[i], "activity": self.presence[i]}
            for i in ids
            if i in self.presence
        ]
        return web.json_response({"value": value})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/tenant/oauth2/v2.0/token", self.token)
        app.router.add_post("/v1.0/communications/getPresencesByUserId", self.presences)
        return app


async def availability(bridge: Any, agent: act.Agent) -> str | None:
    async with bridge.app[keys.ENGINE].connect() as connection:
        return await connection.scalar(select(Agent.availability).where(Agent.teams_id == agent.id))


async def until(condition: Any, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_availability_follows_teams_presence(start_bridge: BridgeFactory) -> None:
    graph = FakeGraph()
    server = TestServer(graph.app(), host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        bridge = await start_bridge(
            presence_sync="graph",
            presence_interval=0.05,
            graph_url=base,
            graph_token_url=f"{base}/tenant/oauth2/v2.0/token",
        )
        room = await setup_room(bridge)
        await go_online(bridge, MINH)  # Minh becomes a member of the room
        await go_online(bridge, room.supervisor)
        minh_aad = MINH.account["aadObjectId"]
        graph.presence[minh_aad] = "Offline"

        async def offline() -> bool:
            return await availability(bridge, MINH) == "offline"

        await until(offline)
        # Asked in one batch, with the app's token (fetched once).
        assert sorted(graph.batches[-1]) == sorted(
            [minh_aad, room.supervisor.account["aadObjectId"]]
        )
        assert set(graph.authorizations) == {"Bearer graph-token"} and graph.tokens == 1
        # Typed availability holds while the presence stays the same.
        await go_online(bridge, MINH)
        polls = len(graph.batches)
        await until(lambda: _async(len(graph.batches) > polls + 2))
        assert await availability(bridge, MINH) == "online"
        # A chat waits; Minh's presence goes Busy (away), then Available (online again):
        # Minh is told of the waiting chat in its thread.
        graph.presence[minh_aad] = "Busy"

        async def away() -> bool:
            return await availability(bridge, MINH) == "away"

        await until(away)
        chat = await open_chat(bridge, "cust-presence", "Hello", locale="en-US")
        graph.presence[minh_aad] = "Available"

        async def told() -> bool:
            await bridge.settled()
            return any(
                e["mentioned"]["id"] == MINH.id
                for a in bridge.connector.activities(chat.thread)
                for e in a.get("entities", [])
            )

        await until(told)
        assert await availability(bridge, MINH) == "online"
    finally:
        await server.close()


async def _async(value: bool) -> bool:
    return value


async def test_replicas_sharing_a_database_poll_once_per_round(
    start_bridge: BridgeFactory, clock: ManualClock
) -> None:
    first, second = await start_bridge(clock), await start_bridge(clock)
    every = timedelta(seconds=27)
    claims = [await claim(bridge, every) for bridge in (first, second)]
    assert claims == [True, False]
    clock.advance(20)
    assert not await claim(second, every)
    clock.advance(8)
    assert await claim(second, every)
    assert not await claim(first, every)


async def claim(bridge: Bridge, every: timedelta) -> bool:
    """One replica's try at this round's poll, as its timer makes it."""
    async with bridge.app[keys.STORE].unit() as tx:
        return await presence.claim_presence_poll(tx, every)
