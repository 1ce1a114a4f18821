"""The console's desk and the queue's missing parts over HTTP, on both engines: the
customer's estimate from recent handling times, returning customers ahead in the queue
(set from the console), the queue in ``@Bot chats``, and Join from the console."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import ClientSession
from sqlalchemy import func, select

from bot import keys
from store.models import Agent, Participant
from tests import activities as act
from tests.conftest import (
    Bridge,
    BridgeFactory,
    ManualClock,
    accept,
    go_online,
    open_chat,
    setup_room,
)
from tests.test_assignment import AGENTS, in_room, offers
from tests.test_console import ask_for_link, browser, close, get, sign_in

AN = AGENTS[0]


async def one_agent_room(bridge: Bridge) -> act.Agent:
    """Round robin, one chat per agent, An alone online; returns the supervisor."""
    room = await setup_room(bridge)
    await in_room(bridge, room.supervisor, "capacity 1")
    await in_room(bridge, room.supervisor, "assignment round_robin")
    await go_online(bridge, AN)
    return room.supervisor


async def handled(bridge: Bridge, clock: ManualClock, customer: str, seconds: int) -> None:
    """A chat offered to An, accepted, and closed ``seconds`` later."""
    chat = await open_chat(bridge, customer, "Hello", locale="en-US")
    await accept(bridge, chat, AN)
    clock.advance(seconds)
    await close(bridge, AN, chat.thread)


async def test_the_queue_notice_estimates_from_recent_handling_times(
    start_bridge: BridgeFactory,
) -> None:
    clock = ManualClock()
    bridge = await start_bridge(clock, queue_notice_seconds=0, csat_enabled=False)
    await one_agent_room(bridge)
    # Too little data: the place, and no time at all.
    busy = await open_chat(bridge, "c-busy", "Hi", locale="en-US")
    await accept(bridge, busy, AN)
    early = await open_chat(bridge, "c-early", "Hi", locale="en-US")
    told = bridge.connector.texts(early.conversation)[-1]
    assert "number 1 in the queue" in told and "about" not in told, told
    clock.advance(600)
    await close(bridge, AN, busy.thread)
    await accept(bridge, early, AN)
    clock.advance(900)
    await close(bridge, AN, early.thread)
    await handled(bridge, clock, "c-third", 300)
    # Handled in 600, 900 and 300 s: a median of 10 minutes, one agent on duty.
    await accept(bridge, await open_chat(bridge, "c-now", "Hi", locale="en-US"), AN)
    first = await open_chat(bridge, "c-q1", "Hi", locale="en-US")
    second = await open_chat(bridge, "c-q2", "Hi", locale="vi-VN")
    told = bridge.connector.texts(first.conversation)[-1]
    assert "number 1 in the queue" in told
    assert told.endswith("The wait is about 10 minutes."), told
    assert bridge.connector.texts(second.conversation)[-1].endswith(
        "Thời gian chờ dự kiến của Quý khách khoảng 20 phút."
    )


def form_token(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found is not None
    return found[1]


async def post_form(
    http: ClientSession, bridge: Bridge, path: str, data: dict[str, str], **query: str
) -> Any:
    origin = f"http://{bridge.server.host}:{bridge.server.port}"
    response = await http.post(
        bridge.server.make_url(path),
        params=query,
        data=data,
        headers={"Origin": origin},
        allow_redirects=False,
    )
    await response.read()
    return response


async def test_returning_customers_go_first_and_the_room_lists_the_queue(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge(queue_notice_seconds=0, csat_enabled=False)
    supervisor = await one_agent_room(bridge)
    async with browser() as http:
        assert await sign_in(bridge, http, await ask_for_link(bridge, supervisor)) == 302
        page = await (await get(http, bridge, "/console/settings")).text()
        saved = await post_form(
            http, bridge, "/console/settings/queue", {"csrf": form_token(page), "returning": "1"}
        )
        assert saved.headers["Location"].endswith("saved=1")
        page = await (await get(http, bridge, "/console/settings")).text()
        assert re.search(r'name="returning" value="1" checked', page)
        refused = await post_form(
            http, bridge, "/console/settings/queue", {"csrf": form_token(page), "tag": "nope"}
        )
        assert refused.headers["Location"].endswith("error=queue")
    old = await open_chat(bridge, "c-old", "First time", locale="en-US")
    await accept(bridge, old, AN)
    await close(bridge, AN, old.thread)
    busy = await open_chat(bridge, "c-busy", "Hi", locale="en-US")
    await accept(bridge, busy, AN)
    newcomer = await open_chat(bridge, "c-new", "Hi", locale="en-US")
    assert "number 1 in the queue" in bridge.connector.texts(newcomer.conversation)[-1]
    back = await open_chat(bridge, "c-old", "Me again", locale="en-US")
    # The returning customer goes ahead of the newcomer who came first.
    assert "number 1 in the queue" in bridge.connector.texts(back.conversation)[-1]
    await in_room(bridge, AN, "chats")
    card = str(bridge.connector.activities(act.ROOM)[-1])
    assert re.search(r"number 1 in the queue, waiting for [^\"']*", card)
    lines = re.findall(r"\): number (\d) in the queue", card)
    assert lines == ["2", "1"], card  # listed by when they came, each with its place
    # An's seat frees: the returning customer's chat is offered first.
    await close(bridge, AN, busy.thread)
    assert offers(bridge, back) == [AN.id]
    assert offers(bridge, newcomer) == []


async def seats(bridge: Bridge, who: act.Agent) -> int:
    async with bridge.app[keys.ENGINE].connect() as connection:
        return await connection.scalar(
            select(func.count(Participant.id))
            .join(Agent, Agent.id == Participant.agent_id)
            .where(Agent.teams_id == who.id)
        )


async def test_a_supervisor_joins_from_the_console_once(start_bridge: BridgeFactory) -> None:
    bridge = await start_bridge()
    room = await setup_room(bridge)
    await go_online(bridge, AN)
    chat = await open_chat(bridge, "c-join", "Help", locale="en-US")
    await accept(bridge, chat, AN)
    path = f"/console/chats/{chat.chat_id}/join"
    async with browser() as http:
        assert await sign_in(bridge, http, await ask_for_link(bridge, room.supervisor)) == 302
        page = await (await get(http, bridge, "/console/live")).text()
        assert f'action="{path}?dept=default"' in page
        # Without the form token, or for a department not theirs: refused, nobody seated.
        assert (await post_form(http, bridge, path, {}, dept="default")).status == 403
        token = form_token(page)
        other = await post_form(http, bridge, path, {"csrf": token}, dept="sales")
        assert other.status == 403
        missing = await post_form(http, bridge, "/console/chats/nope/join", {"csrf": token})
        assert missing.status == 404
        assert await seats(bridge, room.supervisor) == 0
        before = len(bridge.connector.updates(chat.thread, chat.card_id))
        joined = await post_form(http, bridge, path, {"csrf": token}, dept="default")
        assert joined.status == 302
        assert joined.headers["Location"] == "/console/live?dept=default&joined=joined"
        await bridge.settled()
        # What Teams' Join posts: the card redrawn with the supervisor among its people.
        updates = bridge.connector.updates(chat.thread, chat.card_id)
        assert len(updates) == before + 1
        assert "Supervisor Mai" in str(updates[-1])
        again = await post_form(http, bridge, path, {"csrf": token}, dept="default")
        assert again.headers["Location"].endswith("joined=already_in_chat")
        await bridge.settled()
        assert await seats(bridge, room.supervisor) == 1
        assert len(bridge.connector.updates(chat.thread, chat.card_id)) == before + 1
        shown = await (await get(http, bridge, "/console/live", joined="already_in_chat")).text()
        assert "Supervisor Mai, you are already in this chat." in shown


async def test_a_chat_with_the_priority_tag_goes_ahead(start_bridge: BridgeFactory) -> None:
    bridge = await start_bridge(queue_notice_seconds=0, csat_enabled=False)
    supervisor = await one_agent_room(bridge)
    async with browser() as http:
        assert await sign_in(bridge, http, await ask_for_link(bridge, supervisor)) == 302
        page = await (await get(http, bridge, "/console/settings")).text()
        token = form_token(page)
        await post_form(http, bridge, "/console/settings/tag", {"csrf": token, "name": "vip"})
        saved = await post_form(
            http, bridge, "/console/settings/queue", {"csrf": token, "tag": "vip"}
        )
        assert saved.headers["Location"].endswith("saved=1")
    busy = await open_chat(bridge, "c-busy", "Hi", locale="en-US")
    await accept(bridge, busy, AN)
    first = await open_chat(bridge, "c-first", "Hi", locale="en-US")
    vip = await open_chat(bridge, "c-vip", "Hi", locale="en-US")
    assert "number 2 in the queue" in bridge.connector.texts(vip.conversation)[-1]
    # The supervisor tags the second one in its thread: it goes ahead.
    tagged = act.room_message(
        bridge.service_url, supervisor, "/tag vip", thread=vip.thread, mention_bot=False
    )
    assert (await bridge.post(tagged)).status == 201
    await bridge.settled()
    await in_room(bridge, AN, "chats")
    card = str(bridge.connector.activities(act.ROOM)[-1])
    assert re.findall(r"\): number (\d) in the queue", card) == ["2", "1"], card
    await close(bridge, AN, busy.thread)
    assert offers(bridge, vip) == [AN.id]
    assert offers(bridge, first) == []


async def test_place_notices_keep_their_interval(start_bridge: BridgeFactory) -> None:
    clock = ManualClock()
    bridge = await start_bridge(clock, queue_notice_seconds=60, csat_enabled=False)
    await one_agent_room(bridge)
    busy = await open_chat(bridge, "c-busy", "Hi", locale="en-US")
    await accept(bridge, busy, AN)
    queued = [await open_chat(bridge, f"c-q{n}", "Hi", locale="en-US") for n in range(3)]
    heard = [len(bridge.connector.texts(chat.conversation)) for chat in queued]
    # A seat frees at once: the head is offered, the others moved up but were told a
    # moment ago, so they hear nothing yet.
    await close(bridge, AN, busy.thread)
    assert "It is your turn" in bridge.connector.texts(queued[0].conversation)[-1]
    assert [len(bridge.connector.texts(c.conversation)) for c in queued[1:]] == heard[1:]
    # A minute later Bình comes online and takes the next: the last hears its place now.
    clock.advance(61)
    await go_online(bridge, AGENTS[1])
    assert "It is your turn" in bridge.connector.texts(queued[1].conversation)[-1]
    assert "now number 1 in the queue" in bridge.connector.texts(queued[2].conversation)[-1]
