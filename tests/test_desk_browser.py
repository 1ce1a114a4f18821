"""The live page's desk in Chromium, in English and Vietnamese: the agents and queue
panels, Join from the console (the thread's card is redrawn once; a second press seats
nobody twice), browser alerts asked for on a press only (an init script spies on the
Notification API and the AudioContext), the sound toggle remembered, and screenshots at
390 and 1280 px."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests import activities as act
from tests.conftest import Bridge, BridgeFactory, accept, go_online, open_chat
from tests.test_assignment import AGENTS
from tests.test_console import ask_for_link
from tests.test_console_browser import browser, shoot
from tests.test_desk import AN, one_agent_room, seats

__all__ = ["browser"]
BINH = AGENTS[1]

# Wraps the real API: constructions and permission requests are recorded; the permission
# reads "default" until the page asks (the context grants it, so asking gives "granted").
SPY = """
(() => {
  const Real = window.Notification;
  const made = [], asked = [];
  let askedYet = false;
  class Spy extends Real {
    constructor(title, options) {
      made.push({ title: title, body: options && options.body });
      super(title, options);
    }
    static get permission() { return askedYet ? Real.permission : "default"; }
    static requestPermission() {
      asked.push(1);
      askedYet = true;
      return Real.requestPermission();
    }
  }
  window.Notification = Spy;
  window.__made = made;
  window.__asked = asked;
  const RealAudio = window.AudioContext;
  const beeps = [];
  window.AudioContext = class extends RealAudio {
    constructor() { super(); beeps.push(1); }
  };
  window.__beeps = beeps;
})();
"""

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "online": "online",
        "load": "1 of 1 chats",
        "full": "at capacity",
        "place": "No. 1",
        "no_estimate": "no estimate yet",
        "ask": "Turn on browser alerts",
        "on": "Browser alerts are on",
        "sound": "Sound for a new waiting chat",
        "join": "Join",
        "joined": "You joined the chat",
        "again": "you are already in this chat",
        "title": "A customer is waiting: Support",
        "body": "<b>Khoa</b> is waiting for an agent.",
        "offered": "a chat is offered to them",
    },
    "vi": {
        "online": "trực tuyến",
        "load": "1 trên 1 cuộc trò chuyện",
        "full": "đã đủ số cuộc trò chuyện",
        "place": "Số 1",
        "no_estimate": "chưa đủ dữ liệu để ước tính",
        "ask": "Bật thông báo của trình duyệt",
        "on": "Thông báo của trình duyệt đã bật",
        "sound": "Âm báo khi có cuộc trò chuyện mới đang chờ",
        "join": "Tham gia",
        "joined": "Bạn đã tham gia cuộc trò chuyện",
        "again": "bạn đã ở trong cuộc trò chuyện này",
        "title": "Có khách hàng đang chờ: Support",
        "body": "<b>Khoa</b> đang chờ nhân viên.",
        "offered": "đang được giao một cuộc trò chuyện",
    },
}


async def desk_page(browser: Browser, bridge: Bridge, who: act.Agent) -> Page:
    """Signed in through the bot's link, in a context that grants notifications and
    carries the spy."""
    token = await ask_for_link(bridge, who)
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, permissions=["notifications"]
    )
    await context.add_init_script(SPY)
    page = await context.new_page()
    await page.goto(str(bridge.server.make_url(f"/console/signin/{token}")))
    await page.locator("#signin").click()
    await page.wait_for_url("**/console/live")
    return page


async def spied(page: Page, name: str) -> Any:
    return await page.evaluate(f"window.{name}")


@pytest.mark.parametrize("language", ["en", "vi"])
async def test_the_desk_panels_join_and_alerts(
    browser: Browser, start_bridge: BridgeFactory, language: str
) -> None:
    words = TEXTS[language]
    bridge = await start_bridge(default_language=language, queue_notice_seconds=0)
    supervisor = await one_agent_room(bridge)
    busy = await open_chat(bridge, "c-busy", "Hi", locale="en-US")
    await accept(bridge, busy, AN)
    queued = await open_chat(bridge, "c-queued", "Anyone?", locale="en-US")
    page = await desk_page(browser, bridge, supervisor)
    an = page.locator('#agents-panel li[data-agent="Agent An"]')
    for shown in ("online", "load", "full"):
        await expect(an).to_contain_text(words[shown])
    place = page.locator(f'#queue-panel li[data-queued="{queued.chat_id}"]')
    await expect(place).to_contain_text(words["place"])
    await expect(place).to_contain_text(words["no_estimate"])

    # Alerts: nothing asked on load; the press asks once, and the page says they are on.
    assert await spied(page, "__asked") == []
    sound = page.get_by_label(words["sound"])
    await expect(sound).not_to_be_checked()
    ask = page.get_by_role("button", name=words["ask"])
    await expect(ask).to_be_visible()
    await shoot(page, f"desk-{language}", bridge)
    await ask.click()
    await expect(page.locator("#alerts-state")).to_contain_text(words["on"])
    await expect(ask).to_be_hidden()
    assert len(await spied(page, "__asked")) == 1
    await sound.check()
    assert await page.evaluate("localStorage.getItem('console.sound')") == "on"

    # A new waiting chat: one notification, as text (the name is not read as markup).
    newcomer = await open_chat(bridge, "c-new", "Hello", locale="en-US", name="<b>Khoa</b>")
    await expect(page.locator(f'tr[data-chat="{newcomer.chat_id}"]')).to_be_visible(
        timeout=8000
    )
    await page.wait_for_function("window.__made.length > 0")
    made = await spied(page, "__made")
    assert made == [{"title": words["title"], "body": words["body"]}]
    assert len(await spied(page, "__beeps")) == 1
    await expect(page.locator("#queue-panel")).to_contain_text("<b>Khoa</b>")

    # Join from the console: the chat's card in Teams lists the supervisor, once.
    before = len(bridge.connector.updates(busy.thread, busy.card_id))
    row = page.locator(f'tr[data-chat="{busy.chat_id}"]')
    await row.get_by_role("button", name=words["join"]).click()
    await expect(page.locator("#join-notice")).to_contain_text(words["joined"])
    await bridge.settled()
    updates = bridge.connector.updates(busy.thread, busy.card_id)
    assert len(updates) == before + 1 and "Supervisor Mai" in str(updates[-1])
    await shoot(page, f"desk-joined-{language}", bridge)
    await page.locator(f'tr[data-chat="{busy.chat_id}"]').get_by_role(
        "button", name=words["join"]
    ).click()
    await expect(page.locator("#join-notice")).to_contain_text(words["again"])
    await bridge.settled()
    assert await seats(bridge, supervisor) == 1
    assert len(bridge.connector.updates(busy.thread, busy.card_id)) == before + 1
    # The sound stays on after a reload.
    await expect(page.get_by_label(words["sound"])).to_be_checked()
    # Bình comes online: the panels change without a reload (the queue's head is his offer).
    await go_online(bridge, BINH)
    binh = page.locator('#agents-panel li[data-agent="Agent Bình"]')
    await expect(binh).to_contain_text(words["online"], timeout=8000)
    await expect(binh).to_contain_text(words["offered"])
    await expect(place).to_have_count(0)
    # The settings page's queue priority, as the supervisor sees it.
    await page.goto(str(bridge.server.make_url("/console/settings")))
    await expect(page.locator("#queue select[name=tag]")).to_be_visible()
    await page.locator("#queue").scroll_into_view_if_needed()
    await shoot(page, f"settings-queue-{language}", bridge)
