"""Response targets in the console, in a real browser: the Live page's word and colour
per wait (on time, near, missed), the live stream's ``breach`` event, and the settings
form; screenshots in both languages at 390 and 1280 px (``build/screenshots/``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from dialogs.i18n import Texts
from tests.conftest import BridgeFactory, ManualClock, OpenChat, open_chat, setup_room
from tests.test_console import ask_for_link
from tests.test_console_browser import browser, shoot  # noqa: F401 - the fixture
from tests.test_targets import SUPERVISOR, in_room

# A page's own listener on the live stream: the breach events it hears, in order.
LISTEN = """(url) => {
  window.breaches = [];
  window.drawn = 0;
  const events = new EventSource(url);
  events.addEventListener("chats", () => { window.drawn += 1; });
  events.addEventListener("breach", (event) => window.breaches.push(event.data));
}"""


async def signed_in(browser: Browser, bridge: Any, t: Texts) -> Page:  # noqa: F811
    token = await ask_for_link(bridge, SUPERVISOR)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(str(bridge.server.make_url(f"/console/signin/{token}")))
    await page.get_by_role("button", name=t("console.signin_continue")).click()
    await page.wait_for_url("**/console/live")
    return page


async def until_true(page: Page, script: str) -> None:
    """Wait for ``script`` to be true in the page (its CSP forbids the eval that
    ``wait_for_function`` needs: look from here, every 0.1 s)."""
    for _ in range(80):
        if await page.evaluate(script):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{script} stayed false")


@pytest.mark.parametrize("language", ["en", "vi"])
async def test_live_page_words_per_wait_and_the_breach_event(
    browser: Browser,  # noqa: F811
    start_bridge: BridgeFactory,
    clock: ManualClock,
    language: str,
) -> None:
    t = Texts(language)
    bridge = await start_bridge(clock=clock, timer_interval=0.05, default_language=language)
    await setup_room(bridge, SUPERVISOR)
    await in_room(bridge, SUPERVISOR, "targets first 2m")
    chats: list[OpenChat] = []
    chats.append(await open_chat(bridge, f"c-a-{language}", "Hello", name="An"))
    clock.advance(30)
    chats.append(await open_chat(bridge, f"c-b-{language}", "Hello", name="Bảo"))
    clock.advance(70)  # of 120 s, 80 % is 96 s: An 100 s: near; Bảo 70 s: on time
    chats.append(await open_chat(bridge, f"c-c-{language}", "Hello", name="Chi"))
    page = await signed_in(browser, bridge, t)
    rows = [page.locator(f'tr[data-chat="{chat.chat_id}"]') for chat in chats]
    await expect(rows[0].locator(".target")).to_have_text(t("console.target.near"))
    await expect(rows[1].locator(".target")).to_have_text(t("console.target.ok"))
    await expect(rows[0]).to_have_attribute("data-target", "near")
    events = await page.locator("[data-events]").get_attribute("data-events")
    await page.evaluate(LISTEN, events)
    await until_true(page, "() => window.drawn > 0")  # its first table: the breach is news
    clock.advance(27)  # An 127 s: missed (the breach fires); Bảo 97 s: near
    await expect(rows[0].locator(".target")).to_have_text(
        t("console.target.breached"), timeout=8000
    )
    await expect(rows[1].locator(".target")).to_have_text(t("console.target.near"))
    await until_true(page, "() => window.breaches.length > 0")
    assert await page.evaluate("() => window.breaches") == [chats[0].chat_id]
    await shoot(page, f"live-targets-{language}", bridge)
    await page.get_by_role("link", name=t("console.nav_settings")).click()
    form = page.locator("#targets")
    await expect(form.get_by_label(t("console.first_target"))).to_have_value("2")
    await form.get_by_label(t("console.next_target")).fill("5")
    await form.get_by_role("button").click()
    await expect(page.locator(".saved")).to_be_visible()
    await expect(page.locator("#targets").get_by_label(t("console.next_target"))).to_have_value(
        "5"
    )
    await page.locator("#targets").scroll_into_view_if_needed()
    await shoot(page, f"settings-targets-{language}", bridge)
    # The report: one wait missed (An's), nothing answered yet; its charts by hour and owner.
    await page.get_by_role("link", name=t("console.nav_reports")).click()
    missed = page.locator(".fact", has_text=t("report.breaches"))
    await expect(missed.locator("dd:not(.previous)")).to_have_text("1")
    await expect(page.locator("figcaption")).to_contain_text(
        [t("console.chart_breaches_hours"), t("console.chart_breaches_agents")]
    )
    await shoot(page, f"reports-targets-{language}", bridge)
