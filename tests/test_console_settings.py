"""Business hours (across time zones) and the console's settings forms, each change
recorded with who made it and when."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot import keys
from store import ai
from store.console_models import AuditEntry
from store.hours import BadHours, BusinessHours, parse_hours
from store.models import AiBudget, CannedAnswer, Department, TagRequirement
from tests import activities as act
from tests.conftest import Bridge, ManualClock, accept, go_online, open_chat, setup_room
from tests.test_bridge import card_of, card_text
from tests.test_console import ask_for_link, browser, get, sign_in

HANOI = BusinessHours("Asia/Ho_Chi_Minh", (1, 2, 3, 4, 5), time(8), time(17))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_business_hours_are_read_in_the_departments_zone() -> None:
    # Friday 23:30 UTC is Saturday 06:30 in Hanoi: closed until Monday 08:00 there.
    back = HANOI.back_at(utc(2026, 11, 27, 23, 30))
    assert back is not None and back.isoformat() == "2026-11-30T08:00:00+07:00"
    # Sunday 23:30 UTC is Monday 06:30 in Hanoi: back the same (Hanoi) morning.
    back = HANOI.back_at(utc(2026, 11, 29, 23, 30))
    assert back is not None and back.isoformat() == "2026-11-30T08:00:00+07:00"
    # Monday 01:30 UTC is 08:30 in Hanoi: open, though it is still night in UTC.
    assert (
        HANOI.is_open(utc(2026, 11, 30, 1, 30)) and HANOI.back_at(utc(2026, 11, 30, 1, 30)) is None
    )
    # Friday 10:00 UTC is 17:00 in Hanoi: closing time is already closed.
    assert not HANOI.is_open(utc(2026, 11, 27, 10, 0))
    # Across a daylight-saving change: Berlin opens at 08:00 local before and after it.
    berlin = BusinessHours("Europe/Berlin", (1, 2, 3, 4, 5, 6, 7), time(8), time(18))
    assert berlin.back_at(utc(2026, 3, 28, 20, 0)).isoformat() == "2026-03-29T08:00:00+02:00"
    assert berlin.back_at(utc(2026, 3, 27, 20, 0)).isoformat() == "2026-03-28T08:00:00+01:00"


@pytest.mark.parametrize(
    ("zone", "days", "opens", "closes"),
    [
        ("Mars/Olympus", ["1"], "08:00", "17:00"),
        ("Asia/Ho_Chi_Minh", ["8"], "08:00", "17:00"),
        ("Asia/Ho_Chi_Minh", ["x"], "08:00", "17:00"),
        ("Asia/Ho_Chi_Minh", ["1"], "17:00", "08:00"),
        ("Asia/Ho_Chi_Minh", ["1"], "8am", "17:00"),
        ("../../etc/passwd", ["1"], "08:00", "17:00"),
    ],
)
def test_bad_hours_are_refused(zone: str, days: list[str], opens: str, closes: str) -> None:
    with pytest.raises(BadHours):
        parse_hours(zone, days, opens, closes)


async def form_token(http: Any, bridge: Bridge) -> str:
    page = await (await get(http, bridge, "/console/settings")).text()
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found is not None
    return found[1]


async def change(http: Any, bridge: Bridge, what: str, **fields: Any) -> str:
    """Post a settings form; returns where it redirected (saved or the error's name)."""
    data = {"csrf": await form_token(http, bridge), **fields}
    url = bridge.server.make_url(f"/console/settings/{what}")
    response = await http.post(url, params={"dept": "default"}, data=data, allow_redirects=False)
    assert response.status == 302, await response.text()
    return response.headers["Location"]


async def availability(bridge: Bridge) -> dict[str, Any]:
    """What the website's button reads (``GET /api/availability``)."""
    response = await bridge.get("/api/availability?department=default")
    assert response.status == 200
    return await response.json()


async def test_outside_hours_the_customer_hears_when_the_team_is_back(start_bridge: Any) -> None:
    clock = ManualClock()
    clock.advance((utc(2026, 11, 27, 23, 30) - clock()).total_seconds())  # Sat 06:30 Hanoi
    bridge = await start_bridge(clock)
    room = await setup_room(bridge)
    await go_online(bridge, room.supervisor)
    async with browser() as http:
        assert await sign_in(bridge, http, await ask_for_link(bridge, room.supervisor)) == 302
        fields = {"time_zone": "Asia/Ho_Chi_Minh", "opens": "08:00", "closes": "17:00"}
        days = [("days", str(day)) for day in range(1, 6)]
        location = await change(http, bridge, "hours", **fields)
        assert "error=hours" in location  # no day ticked
        data = [("csrf", await form_token(http, bridge)), *fields.items(), *days]
        response = await http.post(
            bridge.server.make_url("/console/settings/hours"),
            params={"dept": "default"},
            data=data,
            allow_redirects=False,
        )
        assert "saved=1" in response.headers["Location"]
    # The website's button says "leave us a message" although the supervisor is online.
    assert (await availability(bridge))["online"] is False
    chat = await open_chat(bridge, "c-night", "Are you there?", locale="en-US")
    told = bridge.connector.texts(chat.conversation)[-1]
    # A time and a zone people say, never the raw zone name.
    assert "back at 08:00 on Monday 30 November 2026 (Vietnam Time)" in told
    assert "Asia/" not in told
    card = card_of(bridge.connector.created()[-1].body["activity"])
    assert "Outside hours" in card_text(card)
    # Monday 08:30 in Hanoi (01:30 UTC): the team is there.
    clock.advance((utc(2026, 11, 30, 1, 30) - clock()).total_seconds())
    assert (await availability(bridge))["online"] is True
    chat = await open_chat(bridge, "c-morning", "Good morning", locale="en-US")
    assert bridge.connector.texts(chat.conversation)[-1].startswith("Thank you")
    assert "Outside hours" not in card_text(
        card_of(bridge.connector.created()[-1].body["activity"])
    )


async def test_settings_changes_take_effect_and_are_recorded(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    binh = act.agent(5, "Agent Binh")
    await go_online(bridge, binh)
    async with browser() as http:
        assert await sign_in(bridge, http, await ask_for_link(bridge, room.supervisor)) == 302
        # Without the form token, or from another site: refused, nothing changes.
        url = bridge.server.make_url("/console/settings/capacity")
        refused = await http.post(url, params={"dept": "default"}, data={"capacity": "2"})
        assert refused.status == 403
        assert "saved=1" in await change(http, bridge, "capacity", capacity="2")
        assert "saved=1" in await change(http, bridge, "assignment", assignment="least_busy")
        assert "error=assignment" in await change(http, bridge, "assignment", assignment="x")
        async with bridge.app[keys.ENGINE].connect() as connection:
            assert await connection.scalar(select(Department.assignment)) == "least_busy"
        assert "saved=1" in await change(http, bridge, "assignment", assignment="broadcast")
        assert "saved=1" in await change(http, bridge, "tag", name="Billing")
        assert "error=tag" in await change(http, bridge, "tag", name="billing")
        assert "error=name" in await change(http, bridge, "tag", name="two words")
        assert "saved=1" in await change(http, bridge, "tag-required", required="1")
        assert "saved=1" in await change(http, bridge, "first-bot", on="1")
        shown = await (await get(http, bridge, "/console/settings")).text()
        assert "The company&#39;s bot answers new chats first" in shown
        assert "FIRST_BOT_SECRET is empty" in shown and "AI help is off" in shown
        hello = {"shortcut": "hello", "text": "Xin chào {customer}!", "company": "1"}
        assert "saved=1" in await change(http, bridge, "canned", **hello)
        assert "error=name" in await change(http, bridge, "canned", shortcut="close", text="x")
        page = await (await get(http, bridge, "/console/settings")).text()
        binh_id = re.search(
            r'name="agent" value="(\d+)"><input type="hidden" name="do" value="add"', page
        )
        assert binh_id is not None
        assert "saved=1" in await change(http, bridge, "supervisor", agent=binh_id[1], do="add")
        page = await (await get(http, bridge, "/console/settings")).text()
    # The audit names who did what, in words.
    said = (
        "Capacity: 2",
        "Assignment: Every online agent; the first Accept wins",
        "Assignment: The agent with the fewest open chats",
        "Tag added: billing",
        "A tag is required before a chat can be closed.",
        "Canned answer saved: hello; Xin chào {customer}!",
        "Make supervisor: Agent Binh",
    )
    for change_said in said:
        assert f'data-label="What">{change_said}' in page, change_said
    assert page.count("Supervisor Mai") >= 5
    async with bridge.app[keys.ENGINE].connect() as connection:
        assert await connection.scalar(select(Department.capacity)) == 2
        assert await connection.scalar(select(TagRequirement.department_id)) is not None
        assert await connection.scalar(select(Department.first_bot)) is True
        company = await connection.scalar(
            select(CannedAnswer.department_id).where(CannedAnswer.shortcut == "hello")
        )
        assert company is None
        audits = (await connection.execute(select(AuditEntry.action))).scalars().all()
    assert len(audits) == 8
    # The next chat follows them: the company-wide answer works in its thread, and Binh,
    # now a supervisor, gets a console link.
    chat = await open_chat(bridge, "c-next", "Hi", name="Lan", locale="en-US")
    await accept(bridge, chat, binh)
    await bridge.post(
        act.room_message(bridge.service_url, binh, "/hello", thread=chat.thread, mention_bot=False)
    )
    await bridge.settled()
    assert bridge.connector.texts(chat.conversation)[-1] == "Xin chào Lan!"
    assert await ask_for_link(bridge, binh)


async def test_the_ai_budget_of_the_day_is_shown(start_bridge: Any) -> None:
    """A department with AI help shows its calls today against the day's limit."""
    bridge = await start_bridge(
        ai_base_url="http://127.0.0.1:9/v1",
        ai_model="m",
        ai_departments=frozenset({"default"}),
        ai_calls_per_day=40,
    )
    room = await setup_room(bridge)
    async with bridge.app[keys.STORE].unit() as tx:
        department = await tx.session.scalar(select(Department.id))
        assert department is not None
        await tx.session.execute(
            insert(AiBudget).values(
                scope=ai.day_scope(department, tx.now), calls=3, updated_at=tx.now
            )
        )
    async with browser() as http:
        assert await sign_in(bridge, http, await ask_for_link(bridge, room.supervisor)) == 302
        page = await (await get(http, bridge, "/console/settings")).text()
    assert "AI help today: 3 of 40 calls." in page


def test_the_store_is_one_core_and_functions_per_aggregate() -> None:
    """No mixins are left for a method of the same name to silently replace another's (as
    a console ``set_capacity`` once did the room's): every aggregate is a module of
    functions taking a unit, so two of the same name live in two namespaces."""
    import importlib
    import pkgutil

    import store
    from store import Store
    from store.core import StoreCore

    assert Store is StoreCore
    for module in pkgutil.iter_modules(store.__path__):
        loaded = importlib.import_module(f"store.{module.name}")
        for name, value in vars(loaded).items():
            if isinstance(value, type) and value is not StoreCore:
                assert not issubclass(value, StoreCore), f"store.{module.name}.{name}"
