"""Tests of the Connector emulator itself, so end-to-end failures can be trusted to be the bot's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from tests.connector_emulator import ConnectorEmulator, Fault

CHANNEL = "19:abc@thread.tacv2"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """The client side; the bot's connector client also talks plain HTTP/JSON to the emulator."""
    async with aiohttp.ClientSession() as session:
        yield session


def conversation_url(emu: ConnectorEmulator, conversation_id: str, *rest: str) -> str:
    """A conversation route URL, with the id encoded like the botbuilder client does."""
    return emu.url + "/".join(["v3/conversations", quote(conversation_id, safe=""), *rest])


async def post(
    http: aiohttp.ClientSession, url: str, body: Any, method: str = "POST"
) -> tuple[int, Any]:
    """Send JSON and return status and parsed answer (None for an empty body)."""
    async with http.request(method, url, json=body) as resp:
        text = await resp.text()
        return resp.status, (await resp.json() if text else None)


async def create_in_channel(
    emu: ConnectorEmulator, http: aiohttp.ClientSession, text: str
) -> dict[str, Any]:
    """Start a thread in the Teams channel, as the bot does when it opens a ticket for agents."""
    body = {
        "isGroup": True,
        "bot": {"id": "28:bot"},
        "channelData": {"channel": {"id": CHANNEL}, "tenant": {"id": "t1"}},
        "activity": {"type": "message", "text": text},
        "tenantId": "t1",
    }
    status, answer = await post(http, emu.url + "v3/conversations", body)
    assert status == 201
    return answer


async def test_start_returns_base_url_with_trailing_slash(connector: ConnectorEmulator) -> None:
    assert connector.url.startswith("http://127.0.0.1:")
    assert connector.url.endswith("/")


async def test_create_send_reply_update_are_recorded(
    connector: ConnectorEmulator, http: aiohttp.ClientSession
) -> None:
    created = await create_in_channel(connector, http, "new ticket")
    conv = created["id"]
    assert created["activityId"] == "1700000000001"
    assert conv == f"{CHANNEL};messageid=1700000000001"
    assert created["serviceUrl"] == connector.url

    status, sent = await post(
        http, conversation_url(connector, conv, "activities"), {"type": "message", "text": "hi"}
    )
    assert status == 200
    reply_url = conversation_url(connector, conv, "activities", sent["id"])
    status, replied = await post(http, reply_url, {"type": "message", "text": "re: hi"})
    assert status == 200
    status, updated = await post(http, reply_url, {"type": "message", "text": "edited"}, "PUT")
    assert (status, updated) == (200, {"id": sent["id"]})
    status, _ = await post(http, reply_url, None, "DELETE")
    assert status == 200

    assert connector.texts(conv) == ["new ticket", "hi", "re: hi"]
    ids = [a["id"] for a in connector.activities(conv)]
    assert ids == [created["activityId"], sent["id"], replied["id"]]
    assert len(set(ids)) == 3
    assert connector.updates(conv) == [{"type": "message", "text": "edited"}]
    assert connector.updates(conv, sent["id"]) == connector.updates(conv)
    assert connector.updates(conv, "other") == []
    assert [c.conversation_id for c in connector.created()] == [conv]
    assert connector.delivered_count() == 3
    assert [(c.method, c.status) for c in connector.calls] == [
        ("POST", 201),
        ("POST", 200),
        ("POST", 200),
        ("PUT", 200),
        ("DELETE", 200),
    ]
    assert connector.calls[1].activity_id == sent["id"]
    assert connector.calls[1].body == {"type": "message", "text": "hi"}


async def test_create_without_channel_gets_fresh_conversation_id(
    connector: ConnectorEmulator, http: aiohttp.ClientSession
) -> None:
    body = {"bot": {"id": "28:bot"}, "members": [{"id": "29:user"}], "activity": {"text": "x"}}
    status, answer = await post(http, connector.url + "v3/conversations", body)
    assert status == 201
    assert answer["id"] == "a:conv-1"
    assert connector.texts("a:conv-1") == ["x"]


@pytest.mark.parametrize(
    "conversation_id",
    [f"{CHANNEL};messageid=1700000000001", "a:1Xy_z=+", "odd/id with space%"],
)
async def test_encoded_conversation_ids_round_trip(
    connector: ConnectorEmulator, http: aiohttp.ClientSession, conversation_id: str
) -> None:
    url = conversation_url(connector, conversation_id, "activities")
    status, _ = await post(http, url, {"type": "message", "text": "hello"})
    assert status == 200
    assert connector.calls[-1].conversation_id == conversation_id
    assert connector.calls[-1].path == f"/v3/conversations/{conversation_id}/activities"
    assert connector.texts(conversation_id) == ["hello"]


async def test_throttling_fault_then_success(
    connector: ConnectorEmulator, http: aiohttp.ClientSession
) -> None:
    fault = Fault(method="POST", path_contains="/activities", status=429, retry_after=1.2)
    connector.add_fault(fault)
    url = conversation_url(connector, CHANNEL, "activities")

    async with http.post(url, json={"text": "first try"}) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "2"
        assert (await resp.json())["error"]["code"] == "TooManyRequests"
    status, _ = await post(http, url, {"text": "second try"})

    assert status == 200
    assert fault.times == 0
    assert [c.status for c in connector.calls] == [429, 200]
    assert connector.texts(CHANNEL) == ["second try"]
    assert connector.delivered_count() == 1


async def test_fault_filters_by_method_and_path(
    connector: ConnectorEmulator, http: aiohttp.ClientSession
) -> None:
    connector.add_fault(Fault(method="PUT", status=503, times=2))
    status, _ = await post(http, conversation_url(connector, CHANNEL, "activities"), {"text": "a"})
    assert status == 200
    update_url = conversation_url(connector, CHANNEL, "activities", "1")
    assert [(await post(http, update_url, {"text": "b"}, "PUT"))[0] for _ in range(3)] == [
        503,
        503,
        200,
    ]
    connector.add_fault(Fault(status=500))
    connector.clear_faults()
    assert (await post(http, update_url, {"text": "c"}, "PUT"))[0] == 200


async def test_dropped_connection(
    connector: ConnectorEmulator, http: aiohttp.ClientSession
) -> None:
    connector.add_fault(Fault(drop=True))
    url = conversation_url(connector, CHANNEL, "activities")

    with pytest.raises(aiohttp.ClientConnectionError):
        await post(http, url, {"text": "lost"})
    status, _ = await post(http, url, {"text": "kept"})

    assert status == 200
    assert [c.status for c in connector.calls] == [0, 200]
    assert connector.texts(CHANNEL) == ["kept"]


async def test_delay_fault_outlasts_client_timeout(
    connector: ConnectorEmulator, http: aiohttp.ClientSession
) -> None:
    connector.add_fault(Fault(delay=0.3))
    url = conversation_url(connector, CHANNEL, "activities")

    with pytest.raises(asyncio.TimeoutError):
        await http.post(url, json={"text": "slow"}, timeout=aiohttp.ClientTimeout(total=0.05))

    # The server still finishes the request after the client gave up, as a real one would.
    await connector.wait_for(lambda: len(connector.calls) == 1, timeout=2)
    assert connector.calls[0].status == 200


async def test_delay_only_fault_answers_normally(
    connector: ConnectorEmulator, http: aiohttp.ClientSession
) -> None:
    connector.add_fault(Fault(delay=0.2))
    started = time.monotonic()
    status, _ = await post(http, conversation_url(connector, CHANNEL, "activities"), {"text": "x"})
    assert status == 200
    assert time.monotonic() - started >= 0.2


async def test_latency_applies_to_every_request(http: aiohttp.ClientSession) -> None:
    emu = ConnectorEmulator(latency=0.1)
    await emu.start()
    try:
        started = time.monotonic()
        async with http.get(emu.url + "v3/nothing") as resp:
            assert resp.status == 404
        assert time.monotonic() - started >= 0.1
    finally:
        await emu.stop()


async def test_malformed_json_is_rejected(
    connector: ConnectorEmulator, http: aiohttp.ClientSession
) -> None:
    url = conversation_url(connector, CHANNEL, "activities")
    headers = {"Content-Type": "application/json"}
    async with http.post(url, data=b"{not json", headers=headers) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "BadArgument"
    assert connector.calls[0].body is None
    assert connector.calls[0].status == 400
    assert connector.delivered_count() == 0
    assert connector.activities(CHANNEL) == []


async def test_unknown_route_is_json_404(
    connector: ConnectorEmulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(conversation_url(connector, CHANNEL, "activities")) as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "NotFound"


async def test_wait_for_times_out_with_recent_calls(
    connector: ConnectorEmulator, http: aiohttp.ClientSession
) -> None:
    await post(http, conversation_url(connector, CHANNEL, "activities"), {"text": "x"})
    with pytest.raises(AssertionError, match="last calls") as excinfo:
        await connector.wait_for(lambda: False, timeout=0.1)
    assert f"POST /v3/conversations/{CHANNEL}/activities -> 200" in str(excinfo.value)


async def test_wait_for_texts_wakes_on_arrival(
    connector: ConnectorEmulator, http: aiohttp.ClientSession
) -> None:
    waiter = asyncio.create_task(connector.wait_for_texts(CHANNEL, 2, timeout=5))
    url = conversation_url(connector, CHANNEL, "activities")
    for text in ("one", "two"):
        await asyncio.sleep(0.01)
        assert not waiter.done()
        await post(http, url, {"text": text})
    assert await waiter == ["one", "two"]


async def test_member_routes(connector: ConnectorEmulator, http: aiohttp.ClientSession) -> None:
    members = [{"id": "29:agent", "name": "Agent", "aadObjectId": "aad-1"}]
    connector.set_members(CHANNEL, members)
    thread = f"{CHANNEL};messageid=1700000000001"

    async def get(url: str) -> tuple[int, Any]:
        async with http.get(url) as resp:
            return resp.status, await resp.json()

    assert await get(conversation_url(connector, CHANNEL, "members")) == (200, members)
    assert await get(conversation_url(connector, thread, "members")) == (200, members)
    assert await get(conversation_url(connector, "other", "members")) == (200, [])
    one = conversation_url(connector, CHANNEL, "members", quote("29:agent", safe=""))
    assert await get(one) == (200, members[0])
    assert await get(conversation_url(connector, CHANNEL, "members", "aad-1")) == (200, members[0])
    assert (await get(conversation_url(connector, CHANNEL, "members", "nobody")))[0] == 404
    paged = conversation_url(connector, CHANNEL, "pagedmembers")
    assert await get(paged) == (200, {"members": members})
    team_url = connector.url + "v3/teams/" + quote(CHANNEL, safe="") + "/conversations"
    assert await get(team_url) == (200, {"conversations": []})


async def test_record_false_keeps_counters_and_markers(http: aiohttp.ClientSession) -> None:
    emu = ConnectorEmulator(record=False)
    await emu.start()
    try:
        url = conversation_url(emu, CHANNEL, "activities")
        for n in range(3):
            await post(http, url, {"text": f"m{n}", "channelData": {"benchMarker": f"k{n}"}})
        await emu.wait_for(lambda: emu.delivered_count() == 3, timeout=1)
    finally:
        await emu.stop()
    assert emu.calls == []
    assert emu.activities(CHANNEL) == []
    assert sorted(emu.arrival_times()) == ["k0", "k1", "k2"]
