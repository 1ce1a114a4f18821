"""Console sessions end on the server (issue 23, findings 4 and 5): sign-out, "sign out
everywhere" (the console's button and ``@Bot console signout``) and the loss of the
supervisor's role; the live stream sends nothing after its session or role has ended and
closes at once. Over HTTP against the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession

from tests import activities as act
from tests.conftest import Bridge, go_online, open_chat, setup_room
from tests.test_console import ask_for_link, browser, get, sign_in
from tests.test_team import MAI
from web.console import views as console_views

BINH = act.agent(5, "Agent Binh")
COOKIE = "console_session"


def cookie_of(bridge: Bridge, http: ClientSession) -> str:
    cookies = http.cookie_jar.filter_cookies(bridge.server.make_url("/console/live"))
    return cookies[COOKIE].value


async def opens(bridge: Bridge, cookie: str) -> int:
    """The status of the live page for a browser that holds ``cookie`` (kept elsewhere,
    whatever the signed-in browser's jar now holds)."""
    async with ClientSession() as http:
        response = await http.get(
            bridge.server.make_url("/console/live"),
            headers={"Cookie": f"{COOKIE}={cookie}"},
            allow_redirects=False,
        )
        return response.status


async def post_form(bridge: Bridge, http: ClientSession, path: str, **data: str) -> ClientResponse:
    """Post a console form as its page would: with the page's form token, from this host."""
    page = await (await get(http, bridge, "/console/live")).text()
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert token is not None
    origin = f"http://{bridge.server.host}:{bridge.server.port}"
    response = await http.post(
        bridge.server.make_url(path),
        data={"csrf": token[1], **data},
        headers={"Origin": origin},
        allow_redirects=False,
    )
    await response.read()
    return response


async def signed_in_browser(bridge: Bridge, who: act.Agent) -> ClientSession:
    http = browser()
    assert await sign_in(bridge, http, await ask_for_link(bridge, who)) == 302
    return http


async def test_signing_out_ends_the_session_on_the_server(bridge: Bridge) -> None:
    await setup_room(bridge, MAI)
    async with await signed_in_browser(bridge, MAI) as http:
        kept = cookie_of(bridge, http)
        assert await opens(bridge, kept) == 200
        assert (await post_form(bridge, http, "/console/signout")).status == 302
    # The cookie, kept from before the sign-out (another tab, a copy): it opens nothing.
    assert await opens(bridge, kept) == 302


async def test_sign_out_everywhere_ends_every_session_of_the_supervisor(bridge: Bridge) -> None:
    await setup_room(bridge, MAI)
    await go_online(bridge, BINH)
    await say_in_room(bridge, MAI, f"supervisor add @{BINH.name}", mentions=(BINH,))
    laptop = await signed_in_browser(bridge, MAI)
    phone = await signed_in_browser(bridge, MAI)
    colleague = await signed_in_browser(bridge, BINH)
    async with laptop, phone, colleague:
        cookies = [cookie_of(bridge, laptop), cookie_of(bridge, phone)]
        response = await post_form(bridge, laptop, "/console/signout/everywhere")
        assert response.status == 302 and response.headers["Location"] == "/console/"
        assert [await opens(bridge, cookie) for cookie in cookies] == [302, 302]
        # Another supervisor's session is not theirs to end.
        assert await opens(bridge, cookie_of(bridge, colleague)) == 200
    # From Teams: "@Bot console signout" ends the writer's sessions, on every device.
    async with await signed_in_browser(bridge, MAI) as http:
        kept = cookie_of(bridge, http)
        await say_in_room(bridge, MAI, "console signout")
        assert "every console session of yours has ended" in bridge.connector.texts(act.ROOM)[-1]
        assert await opens(bridge, kept) == 302
        assert (await get(http, bridge, "/console/live")).status == 302


async def say_in_room(
    bridge: Bridge, who: act.Agent, text: str, mentions: tuple[act.Agent, ...] = ()
) -> None:
    message = act.room_message(bridge.service_url, who, text, mentions=mentions)
    assert (await bridge.post(message)).status == 201
    await bridge.settled()


async def first_event(stream: ClientResponse) -> str:
    async def read() -> str:
        async for line in stream.content:
            if line.startswith(b"event: "):
                return line[7:].decode().strip()
        raise AssertionError("the stream ended before its first event")

    return await asyncio.wait_for(read(), 10)


async def events_until_closed(stream: ClientResponse, seconds: float) -> list[str]:
    """The events the stream sends until it ends; a stream still open after ``seconds``
    fails the test."""
    names: list[str] = []

    async def read() -> None:
        async for line in stream.content:
            if line.startswith(b"event: "):
                names.append(line[7:].decode().strip())

    await asyncio.wait_for(read(), seconds)
    return names


async def removed_supervisors_stream_ends(bridge: Bridge, remove_from_teams: bool) -> None:
    """Binh, a supervisor watching the live list, is removed: his stream sends nothing
    more (a new chat opened just after is not shown to him) but the word to go to the
    sign-in page, and closes within a second or so; his cookie opens nothing."""
    await setup_room(bridge, MAI)
    await go_online(bridge, BINH)
    await say_in_room(bridge, MAI, f"supervisor add @{BINH.name}", mentions=(BINH,))
    async with await signed_in_browser(bridge, MAI) as mai, await signed_in_browser(
        bridge, BINH
    ) as binh:
        kept = cookie_of(bridge, binh)
        url = bridge.server.make_url("/console/live/events")
        async with binh.get(url, params={"dept": "default"}) as stream:
            assert stream.status == 200
            assert await first_event(stream) == "chats"
            if remove_from_teams:
                await say_in_room(bridge, MAI, f"supervisor remove @{BINH.name}", mentions=(BINH,))
            else:
                page = await (await get(mai, bridge, "/console/settings")).text()
                found = re.search(r'Agent Binh.*?name="agent" value="(\d+)"', page, re.S)
                assert found is not None
                removed = await post_form(
                    bridge, mai, "/console/settings/supervisor", agent=found[1], do="remove"
                )
                assert "saved=1" in removed.headers["Location"]
            started = asyncio.get_running_loop().time()
            await open_chat(bridge, "cust-after", "Hello after the removal")
            assert await events_until_closed(stream, 5) == ["signedout"]
            assert asyncio.get_running_loop().time() - started < 3
        assert await opens(bridge, kept) == 302
        # Mai is still a supervisor, still signed in.
        assert (await get(mai, bridge, "/console/live")).status == 200


async def test_a_supervisor_removed_in_the_console_loses_session_and_stream(
    bridge: Bridge,
) -> None:
    await removed_supervisors_stream_ends(bridge, remove_from_teams=False)


async def test_a_supervisor_removed_from_teams_loses_session_and_stream(bridge: Bridge) -> None:
    await removed_supervisors_stream_ends(bridge, remove_from_teams=True)


async def test_on_another_replica_the_stream_checks_each_event(
    start_bridge: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Binh's stream runs on one replica; he is removed through another, which cannot wake
    it. The next change is not sent to him: the stream checks his session and role before
    each event, finds them gone and closes. (On PostgreSQL the other replica's commit
    wakes the stream through NOTIFY; SQLite replicas hear nothing of each other, so there
    the stream's own periodic look, shortened here, is what finds the change.)"""
    monkeypatch.setattr(console_views, "LOOK_SECONDS", 0.5)
    first = await start_bridge()
    second = await start_bridge()
    await setup_room(first, MAI)
    await go_online(first, BINH)
    await say_in_room(first, MAI, f"supervisor add @{BINH.name}", mentions=(BINH,))
    async with await signed_in_browser(first, BINH) as binh:
        url = first.server.make_url("/console/live/events")
        async with binh.get(url, params={"dept": "default"}) as stream:
            assert await first_event(stream) == "chats"
            await say_in_room(second, MAI, f"supervisor remove @{BINH.name}", mentions=(BINH,))
            await open_chat(second, "cust-elsewhere", "Hello from the other replica")
            assert await events_until_closed(stream, 5) == ["signedout"]
