"""The supervisors' console over HTTP: the one-time link, sessions, forms, department scope,
history, CSV and report figures (the browser tests are in ``test_console_browser.py``)."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from sqlalchemy import select

from bot import keys
from store import console, history
from store.models import Department
from tests import activities as act
from tests.conftest import Bridge, ManualClock, accept, go_online, open_chat, setup_room
from tests.test_routing import SALES, setup_sales
from tests.test_team import HUNG, MAI, MINH, offer_of, online, press, say


def browser() -> ClientSession:
    """A client that keeps cookies for 127.0.0.1 (aiohttp's jar skips IP hosts by default)."""
    return ClientSession(cookie_jar=CookieJar(unsafe=True))


LINK = re.compile(r"https?://[^\s]+/console/signin/([A-Za-z0-9_-]+)")


async def ask_for_link(bridge: Bridge, who: act.Agent, room: str = act.ROOM) -> str:
    """``who`` writes ``@Bot console`` in ``room``; returns the token of the link the
    bot sent them in a personal conversation (checked to be 1:1 and theirs)."""
    before = len(bridge.connector.created())
    response = await bridge.post(act.room_message(bridge.service_url, who, "console", room=room))
    assert response.status == 201
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) > before)
    created = bridge.connector.created()[before]
    assert created.body["isGroup"] is False
    assert created.body["members"] == [{"id": who.id}]
    assert created.body["tenantId"] == act.TENANT
    personal = created.conversation_id
    texts = await bridge.connector.wait_for_texts(personal, 1)
    found = LINK.search(texts[-1])
    assert found is not None, texts
    await bridge.settled()
    return found[1]


async def sign_in(bridge: Bridge, http: ClientSession, token: str) -> int:
    """Open the link and press Sign in, as a browser would; returns the POST's status."""
    url = bridge.server.make_url(f"/console/signin/{token}")
    page = await http.get(url)
    assert page.status == 200 and "<form" in await page.text()
    response = await http.post(url, allow_redirects=False)
    await response.read()
    return response.status


async def get(http: ClientSession, bridge: Bridge, path: str, **params: str) -> Any:
    response = await http.get(bridge.server.make_url(path), params=params, allow_redirects=False)
    await response.read()
    return response


async def test_the_link_signs_in_once_within_ten_minutes(start_bridge: Any) -> None:
    clock = ManualClock()
    bridge = await start_bridge(clock)
    room = await setup_room(bridge)
    token = await ask_for_link(bridge, room.supervisor)
    # The room is told only that a personal message went out; the link is not in it.
    assert not any(token in text for text in bridge.connector.texts(act.ROOM))
    async with browser() as http:
        # Opening the link (or a link preview fetching it) does not spend it.
        assert (await get(http, bridge, f"/console/signin/{token}")).status == 200
        url = bridge.server.make_url(f"/console/signin/{token}")
        # Posted from another site: refused, and the link is not spent.
        forged = await http.post(url, headers={"Origin": "https://evil.test"})
        assert forged.status == 403
        first = await http.post(url, allow_redirects=False)
        assert first.status == 302 and first.headers["Location"] == "/console/live"
        cookie = first.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=28800" in cookie
        assert "Secure" not in cookie  # local mode: plain http on this machine
        live = await get(http, bridge, "/console/live")
        assert live.status == 200 and "Supervisor Mai" in await live.text()
    async with browser() as other:
        # The same link a second time: refused.
        assert await sign_in(bridge, other, token) == 403
        # A new link, opened after ten minutes: refused too.
        late = await ask_for_link(bridge, room.supervisor)
        clock.advance(601)
        assert await sign_in(bridge, other, late) == 403
        assert (await get(other, bridge, "/console/live")).status == 302
        # The session itself lasts 8 hours.
        fresh = await ask_for_link(bridge, room.supervisor)
        assert await sign_in(bridge, other, fresh) == 302
        clock.advance(8 * 3600 + 1)
        assert (await get(other, bridge, "/console/live")).status == 302


async def test_only_supervisors_get_a_link(bridge: Bridge) -> None:
    await setup_room(bridge)
    stranger = act.agent(5, "Agent Binh")
    await go_online(bridge, stranger)
    before = len(bridge.connector.created())
    response = await bridge.post(act.room_message(bridge.service_url, stranger, "console"))
    assert response.status == 201
    texts = await bridge.connector.wait_for_texts(act.ROOM, 3)
    assert "only the department's supervisors" in texts[-1]
    await bridge.settled()
    assert len(bridge.connector.created()) == before


async def test_a_supervisor_is_refused_another_departments_pages(bridge: Bridge) -> None:
    support = (await setup_room(bridge)).supervisor
    hung = act.agent(9, "Supervisor Hung")
    await setup_sales(bridge, hung)
    await go_online(bridge, hung, room=SALES)
    # A chat in Sales (the customer picks it by name).
    await bridge.post(act.webchat_message(bridge.service_url, "c-sales", "hello"))
    await bridge.post(act.webchat_message(bridge.service_url, "c-sales", "Sales"))
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) >= 1)
    await bridge.settled()
    card = bridge.connector.created()[-1].body["activity"]["attachments"][0]["content"]
    sales_ref = card["actions"][0]["data"]["chat"]
    token = await ask_for_link(bridge, support)
    async with browser() as http:
        assert await sign_in(bridge, http, token) == 302
        for path in ("/console/live", "/console/history", "/console/reports"):
            assert (await get(http, bridge, path, dept="default")).status == 200
            refused = await get(http, bridge, path, dept="sales")
            assert refused.status == 403
            assert "Sales" not in await refused.text()
            assert (await get(http, bridge, path, dept="no-such")).status == 403
        assert (await get(http, bridge, "/console/history.csv", dept="sales")).status == 403
        assert (await get(http, bridge, "/console/live/events", dept="sales")).status == 403
        # Sales' chat is not found from Support's pages, and Sales' pages are refused.
        for path in (f"/console/chats/{sales_ref}", f"/console/chats/{sales_ref}/transcript"):
            assert (await get(http, bridge, path, dept="default")).status == 404
            assert (await get(http, bridge, path, dept="sales")).status == 403
        live = await (await get(http, bridge, "/console/live")).text()
        assert "c-sales" not in live and "Lan" not in live
    # Hung sees Sales' chat on Sales' live page.
    token = await ask_for_link(bridge, hung, room=SALES)
    async with browser() as http:
        assert await sign_in(bridge, http, token) == 302
        live = await get(http, bridge, "/console/live", dept="sales")
        assert live.status == 200 and "Lan" in await live.text()
        assert (await get(http, bridge, "/console/live", dept="default")).status == 403


async def test_forms_need_their_token_and_this_origin(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    token = await ask_for_link(bridge, room.supervisor)
    async with browser() as http:
        assert await sign_in(bridge, http, token) == 302
        page = await (await get(http, bridge, "/console/live")).text()
        form_token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert form_token is not None
        url = bridge.server.make_url("/console/signout")
        for data, headers in (
            ({}, {}),
            ({"csrf": "0" * 40}, {}),
            ({"csrf": form_token[1]}, {"Origin": "https://evil.test"}),
        ):
            response = await http.post(url, data=data, headers=headers, allow_redirects=False)
            assert response.status == 403
        assert (await get(http, bridge, "/console/live")).status == 200
        origin = f"http://{bridge.server.host}:{bridge.server.port}"
        response = await http.post(
            url, data={"csrf": form_token[1]}, headers={"Origin": origin}, allow_redirects=False
        )
        assert response.status == 302
        assert (await get(http, bridge, "/console/live")).status == 302


async def test_the_local_sign_in_page_lists_supervisors_in_local_mode_only(
    bridge: Bridge,
) -> None:
    await setup_room(bridge)
    async with browser() as http:
        page = await get(http, bridge, "/console/local")
        assert page.status == 200 and "Supervisor Mai" in await page.text()
        agent = re.search(r'<option value="(\d+)">Supervisor Mai', await page.text())
        assert agent is not None
        url = bridge.server.make_url("/console/local")
        response = await http.post(url, data={"agent": agent[1]}, allow_redirects=False)
        assert response.status == 302
        assert (await get(http, bridge, "/console/live")).status == 200
        response = await http.post(url, data={"agent": "999"}, allow_redirects=False)
        assert response.status == 400


async def close(bridge: Bridge, who: act.Agent, thread: str) -> None:
    message = act.room_message(bridge.service_url, who, "/close", thread=thread, mention_bot=False)
    assert (await bridge.post(message)).status == 201
    await bridge.settled()


async def reply(bridge: Bridge, who: act.Agent, thread: str, text: str) -> None:
    message = act.room_message(bridge.service_url, who, text, thread=thread, mention_bot=False)
    assert (await bridge.post(message)).status == 201
    await bridge.settled()


async def seed_report(bridge: Bridge, clock: ManualClock) -> dict[str, Any]:
    """Three chats with known times: accepted after 30 s and 90 s, one never accepted.

    Time to accept: 30, 90 (median 30, p90 90, nearest rank). First reply: 40 s after
    opening, 150 s. Handling: 570 s, 1110 s. Missed: 1. One rating: 4, of Binh's chat.
    """
    room = await setup_room(bridge)
    mai = room.supervisor
    binh = act.agent(5, "Agent Binh")
    await go_online(bridge, mai)
    await go_online(bridge, binh)
    # (customer, name, text, agent, seconds to accept, then to first reply, then to close)
    plan = [
        ("c-1", "Lan", "first", binh, 30, 10, 560),
        ("c-2", "Minh", "second refund", mai, 90, 60, 1050),
    ]
    handled = []
    for customer, name, text, agent, to_accept, to_reply, to_close in plan:
        chat = await open_chat(bridge, customer, text, name=name)
        clock.advance(to_accept)
        await accept(bridge, chat, agent)
        clock.advance(to_reply)
        await reply(bridge, agent, chat.thread, f"Chào {name}")
        clock.advance(to_close)
        await close(bridge, agent, chat.thread)
        handled.append(chat)
    first, second = handled
    rate = {"action": "rate", "chat": first.chat_id, "score": 4}
    assert (
        await bridge.post(act.webchat_message(bridge.service_url, "c-1", "", value=rate))
    ).status == 201
    await bridge.settled()
    third = await open_chat(bridge, "c-3", "third", name="Hoa")
    clock.advance(20)
    await close(bridge, mai, third.thread)
    return {"mai": mai, "binh": binh, "chats": (first, second, third)}


async def test_history_search_csv_and_report_figures(start_bridge: Any) -> None:
    clock = ManualClock()
    bridge = await start_bridge(clock)
    seeded = await seed_report(bridge, clock)
    token = await ask_for_link(bridge, seeded["mai"])
    async with browser() as http:
        assert await sign_in(bridge, http, token) == 302
        found = await (await get(http, bridge, "/console/history", text="refund")).text()
        assert "Minh" in found and "Lan" not in found and "1 chats found" in found
        found = await (await get(http, bridge, "/console/history", agent="binh")).text()
        assert "Lan" in found and "Minh" not in found
        csv = await (await get(http, bridge, "/console/history.csv")).text()
        lines = csv.strip().splitlines()
        assert lines[0].startswith("reference,customer") and len(lines) == 4
        report = await (await get(http, bridge, "/console/reports")).text()
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", report))
    assert facts["Chats received"] == "3"
    assert facts["Accepted"] == "2"
    assert facts["Missed (closed without an accept)"] == "1"
    assert facts["Time to accept"] == "median 30 seconds / 90th percentile 1 minute 30 seconds"
    assert facts["Time to first reply"] == (
        "median 40 seconds / 90th percentile 2 minutes 30 seconds"
    )
    assert facts["Handling time"] == (
        "median 9 minutes 30 seconds / 90th percentile 18 minutes 30 seconds"
    )
    assert facts["Satisfaction"] == "4.00 / 5 from 1 ratings"
    assert "<svg" in report
    # The same figures as a card in the room.
    await bridge.post(act.room_message(bridge.service_url, seeded["mai"], "report today"))
    await bridge.settled()
    card = bridge.connector.activities(act.ROOM)[-1]["attachments"][0]["content"]
    card_facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert card_facts["Time to accept"] == "median 30 seconds / 90th percentile 1 minute 30 seconds"
    assert card_facts["Missed (closed without an accept)"] == "1"
    assert card["actions"][0]["url"].startswith("http://bridge.test/console/reports?dept=default")


async def live_mark(bridge: Bridge) -> tuple[Any, ...]:
    """What the live list's event stream compares to know that it must redraw."""
    async with bridge.app[keys.STORE].reading() as tx:
        department = await tx.session.scalar(select(Department.id))
        assert department is not None
        return await console.live_fingerprint(tx, department)


async def test_the_live_list_sees_every_change_it_shows(bridge: Bridge) -> None:
    """Each change of who is in an open chat, or of its tags, redraws the live list: also
    a transfer back to the colleague whose old seat is taken again, and a tag swapped for
    another (as many seats and tags as before)."""
    await setup_room(bridge, MAI)
    await say_in_room(bridge, MAI, "tags add billing refund")
    marks = [await live_mark(bridge)]
    chat = await open_chat(bridge, "cust-1", "Xin chào", name="Lan")
    marks.append(await live_mark(bridge))
    await accept(bridge, chat, MINH)
    marks.append(await live_mark(bridge))
    await online(bridge, HUNG, MINH)
    for sender, recipient in ((MINH, HUNG), (HUNG, MINH)):
        await say(bridge, chat, sender, f"/transfer @{recipient.name}", recipient)
        await press(bridge, chat, recipient, "take", offer=offer_of(bridge, chat)["offer"])
        marks.append(await live_mark(bridge))
    for tag in ("billing", "refund"):
        await press(bridge, chat, MINH, "tag", tags=tag)
        marks.append(await live_mark(bridge))
    await say(bridge, chat, MINH, "/close")
    marks.append(await live_mark(bridge))
    # The stream compares each mark with the one before (a state seen earlier again, as
    # the transfer back, may well have that state's mark).
    assert all(before != after for before, after in pairwise(marks)), marks
    # Nothing shown changed: nothing to redraw.
    assert await live_mark(bridge) == marks[-1]


async def say_in_room(bridge: Bridge, who: act.Agent, text: str) -> None:
    response = await bridge.post(act.room_message(bridge.service_url, who, text))
    assert response.status == 201
    await bridge.settled()


async def test_the_csv_gives_each_chat_its_own_tags(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export joins each chat's tags in its own row (one statement, streamed), and
    names no tag of another chat; the history's count stops at its limit ("1+")."""
    await setup_room(bridge, MAI)
    await say_in_room(bridge, MAI, "tags add billing refund delivery")
    await online(bridge, MINH)
    for customer, tags in (("cust-a", "billing,refund"), ("cust-b", "delivery")):
        chat = await open_chat(bridge, customer, "Xin chào", name=f"Khách {customer}")
        await accept(bridge, chat, MINH)
        await press(bridge, chat, MINH, "tag", tags=tags)
        await say(bridge, chat, MINH, "/close")
    token = await ask_for_link(bridge, MAI)
    async with browser() as http:
        assert await sign_in(bridge, http, token) == 302
        response = await get(http, bridge, "/console/history.csv")
        assert response.headers["Content-Type"].startswith("text/csv")
        lines = (await response.text()).strip().splitlines()
        monkeypatch.setattr(history, "COUNT_LIMIT", 1)
        found = await (await get(http, bridge, "/console/history")).text()
        assert "1+ chats found" in found
    rows = {line.split(",")[1]: line.split(",")[-1] for line in lines[1:]}
    assert rows == {"Khách cust-a": "billing refund", "Khách cust-b": "delivery"}
