"""Authentication comes first and never blocks (findings 6, 7 and 11 of the trust issue).

A local signing-key endpoint stands in for the Bot Framework's: it serves real keys (a
token signed with them is accepted) or hangs (a forged token is refused while it hangs,
and the server keeps answering).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from app import create_app, server_options
from bot.settings import Settings
from store.models import OutboxItem, Setting
from store.trust import TENANT_KEY
from tests import activities as act
from tests.conftest import Bridge, BridgeFactory
from tests.test_trust import MAI, MALLORY, department_channels, foreign, rows

APP_ID = "00000000-0000-0000-0000-000000000b07"


class KeyServer:
    """OpenID metadata and a key set, or an endpoint that never answers."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.hang = False
        self.released = asyncio.Event()
        self.hits = 0
        self.server: TestServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/metadata", self._metadata)
        app.router.add_get("/keys", self._keys)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("/metadata"))

    async def _metadata(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.hang:
            await self.released.wait()  # until the test ends
        assert self.server is not None
        return web.json_response({"jwks_uri": str(self.server.make_url("/keys"))})

    async def _keys(self, request: web.Request) -> web.Response:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid="key-1", endorsements=["msteams", "webchat", "directline"])
        return web.json_response({"keys": [public]})

    def token(self, service_url: str, *, key: Any = None) -> str:
        claims = {
            "iss": "https://api.botframework.com",
            "aud": APP_ID,
            "serviceurl": service_url,
            "exp": int(time.time()) + 600,
            "nbf": int(time.time()) - 60,
        }
        signer = key or self.key
        return jwt.encode(claims, signer, algorithm="RS256", headers={"kid": "key-1"})


@pytest.fixture
async def keys_endpoint() -> AsyncIterator[KeyServer]:
    server = KeyServer()
    yield server
    server.released.set()
    if server.server is not None:
        await server.server.close()


async def authenticated_bridge(
    start_bridge: BridgeFactory, keys: KeyServer, **overrides: Any
) -> Bridge:
    url = keys.server.make_url("/metadata") if keys.server is not None else await keys.start()
    return await start_bridge(
        app_id=APP_ID,
        app_password="not-used-here",
        openid_metadata_url=str(url),
        signing_keys_timeout=0.5,
        signing_keys_failure_ttl=30.0,
        **overrides,
    )


async def test_a_token_signed_with_the_published_keys_is_accepted_and_others_are_not(
    start_bridge: BridgeFactory, keys_endpoint: KeyServer
) -> None:
    bridge = await authenticated_bridge(start_bridge, keys_endpoint)
    activity = act.webchat_message(bridge.service_url, "cust-auth", "Hello")
    good = keys_endpoint.token(bridge.service_url)
    assert (await bridge.post(activity, headers={"Authorization": f"Bearer {good}"})).status == 201
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = keys_endpoint.token(bridge.service_url, key=stranger)
    again = act.webchat_message(bridge.service_url, "cust-auth", "Hello again")
    response = await bridge.post(again, headers={"Authorization": f"Bearer {forged}"})
    assert response.status == 401


async def test_no_token_is_refused_and_unread_fields_refuse_nothing(
    start_bridge: BridgeFactory, keys_endpoint: KeyServer
) -> None:
    """A request without a valid token is refused (401) whatever its activity holds. With
    one, a field only the channel uses (a timestamp that is not a date) is no reason to
    refuse: the SDK is handed the fields it reads, and the bridge reads its own."""
    bridge = await authenticated_bridge(start_bridge, keys_endpoint)
    activity = act.webchat_message(bridge.service_url, "cust-big", "Hi", timestamp="not a date")
    for header in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nope"}):
        assert (await bridge.post(activity, headers=header)).status == 401
    good = keys_endpoint.token(bridge.service_url)
    response = await bridge.post(activity, headers={"Authorization": f"Bearer {good}"})
    assert response.status == 201
    assert keys_endpoint.hits == 1


async def test_a_hanging_key_endpoint_refuses_tokens_without_stopping_the_server(
    start_bridge: BridgeFactory, keys_endpoint: KeyServer
) -> None:
    keys_endpoint.hang = True
    bridge = await authenticated_bridge(start_bridge, keys_endpoint)
    forged = keys_endpoint.token(bridge.service_url)
    activity = act.webchat_message(bridge.service_url, "cust-forged", "Hi")
    pending = asyncio.ensure_future(
        bridge.post(activity, headers={"Authorization": f"Bearer {forged}"})
    )
    await asyncio.sleep(0.05)
    # While the key endpoint hangs, the server answers others...
    health = await asyncio.wait_for(bridge.get("/healthz"), 10)
    assert health.status == 200 and not pending.done()
    # ...and the forged token is refused once the fetch's time-out passes.
    assert (await asyncio.wait_for(pending, 10)).status == 401
    # The failure is remembered: the next token is refused without another fetch.
    again = act.webchat_message(bridge.service_url, "cust-forged", "Hi again")
    response = await asyncio.wait_for(
        bridge.post(again, headers={"Authorization": f"Bearer {forged}"}), 10
    )
    assert response.status == 401
    assert keys_endpoint.hits == 1


# 11. Exposure ----------------------------------------------------------------------------------


def test_local_mode_listens_on_this_machine_only_unless_told() -> None:
    assert Settings().listen_host == "127.0.0.1"
    assert Settings(host="0.0.0.0").listen_host == "0.0.0.0"
    assert Settings(app_id=APP_ID).listen_host == "0.0.0.0"


async def test_slow_or_idle_clients_are_cut(database_url: str) -> None:
    settings = Settings(database_url=database_url, client_timeout=0.3, db_auto_upgrade=True)
    runner = web.AppRunner(create_app(settings), **server_options(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        for opening in (b"", b"POST /api/messages HTTP/1.1\r\nHost: x\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(opening)
            await writer.drain()
            # The server closes the connection: the read ends (it would hang otherwise).
            assert await asyncio.wait_for(reader.read(), 10) == b""
            writer.close()
        # A body that trickles in is answered 408.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), 10)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        assert await asyncio.wait_for(reader.read(), 10)  # the rest, then the close
        writer.close()
    finally:
        await runner.cleanup()


async def test_a_request_without_a_token_is_refused_before_its_body_arrives(
    database_url: str,
) -> None:
    settings = Settings(
        database_url=database_url, app_id=APP_ID, client_timeout=2, db_auto_upgrade=True
    )
    runner = web.AppRunner(create_app(settings), **server_options(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", runner.addresses[0][1])
        writer.write(
            b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 200000\r\n\r\n{"type": '
        )
        await writer.drain()
        # A 401, not a 408 after the client time-out: the body was never waited for.
        status = await asyncio.wait_for(reader.readline(), 30)
        assert status.startswith(b"HTTP/1.1 401"), status
        writer.close()
    finally:
        await runner.cleanup()


# Issue 23 (10): trust on first use ------------------------------------------------------------


async def test_with_an_app_id_setup_binds_nothing_until_the_tenant_is_configured(
    start_bridge: BridgeFactory, keys_endpoint: KeyServer
) -> None:
    """With an app id set and neither ALLOWED_TENANTS nor MicrosoftAppTenantId, the first
    setup would bind whichever tenant wrote first: a stranger's. It binds nothing, and the
    writer is told what to set; with the tenant configured, the same setup binds."""
    bridge = await authenticated_bridge(start_bridge, keys_endpoint)
    signed = {"Authorization": f"Bearer {keys_endpoint.token(bridge.service_url)}"}
    for attempt in (
        foreign(act.room_message(bridge.service_url, MALLORY, "setup")),
        act.room_message(bridge.service_url, MAI, "setup"),
    ):
        assert (await bridge.post(attempt, headers=signed)).status == 201
    assert await department_channels(bridge) == []
    assert await rows(bridge, select(Setting.value).where(Setting.key == TENANT_KEY)) == []
    queued = [payload for (payload,) in await rows(bridge, select(OutboxItem.payload))]
    told = [json.dumps(payload) for payload in queued]
    assert len(told) == 2 and all("ALLOWED_TENANTS" in text for text in told), told
    configured = await authenticated_bridge(
        start_bridge, keys_endpoint, allowed_tenant_ids=frozenset({act.TENANT})
    )
    again = act.room_message(configured.service_url, MAI, "setup")
    assert (await configured.post(again, headers=signed)).status == 201
    assert await department_channels(configured) == [("default", act.ROOM)]
