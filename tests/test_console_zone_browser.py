"""Issue 26 in Chromium: the console in the team's time and language. Every page is
opened from the console's own links in Vietnamese and read as the browser shows it
(the running waits included, written by the page's script), and the English pages show
the department's zone; screenshots of each at 390 px and 1280 px in
``build/screenshots/`` (git-ignored)."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.conftest import Bridge
from tests.test_console import ask_for_link
from tests.test_console_browser import browser, shoot
from tests.test_console_zone import (
    DATA,
    FRIDAY_EVENING_IN_HANOI,
    HANOI,
    at,
    problems,
    seed_vietnamese,
)

__all__ = ["browser"]  # the fixture, used by name

# Each page, by its link's name in Vietnamese.
SECTIONS = {"live": "Trực tiếp", "history": "Lịch sử", "reports": "Báo cáo", "settings": "Cài đặt"}
SIGN_IN = {"vi": "Đăng nhập", "en": "Sign in"}


async def open_console(browser: Browser, bridge: Bridge, who: Any, language: str) -> Page:
    token = await ask_for_link(bridge, who)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(str(bridge.server.make_url(f"/console/signin/{token}")))
    await page.get_by_role("button", name=SIGN_IN[language]).click()
    await page.wait_for_url("**/console/live")
    return page


async def test_the_console_reads_in_vietnamese_in_a_browser(
    browser: Browser, start_bridge: Any
) -> None:
    clock = at(FRIDAY_EVENING_IN_HANOI)
    bridge = await start_bridge(clock, default_language="vi")
    seeded = await seed_vietnamese(bridge, clock)
    page = await open_console(browser, bridge, seeded["mai"], "vi")
    waiting = page.locator(f'tr[data-chat="{seeded["waiting"].chat_id}"] .waited')
    # The page's script ticks the running wait on, in words of the page's language.
    await expect(waiting).to_have_text(re.compile(r"^[1-9]\d* giây$"), timeout=8000)
    for name, section in SECTIONS.items():
        await page.get_by_role("link", name=section, exact=True).click()
        await page.wait_for_load_state()
        shown = await page.locator("body").inner_text()
        assert problems(" ".join(shown.split()), DATA) == [], f"{name}: {shown}"
        await shoot(page, f"vi-{name}", bridge)
    # The zone picker: a place by name, the stored zone chosen.
    picked = page.locator("#hours select[name=time_zone] option:checked")
    await expect(picked).to_have_text("Giờ Việt Nam, TP Hồ Chí Minh (GMT+07:00)")


async def test_english_pages_show_the_departments_zone(
    browser: Browser, start_bridge: Any
) -> None:
    clock = at(FRIDAY_EVENING_IN_HANOI)
    bridge = await start_bridge(clock)
    seeded = await seed_vietnamese(bridge, clock)
    page = await open_console(browser, bridge, seeded["mai"], "en")
    await expect(page.locator("td.waited").first).to_contain_text("second")
    await shoot(page, "en-live", bridge)
    await page.get_by_role("link", name="History", exact=True).click()
    row = page.locator(f'tr[data-chat="{seeded["chats"][1].chat_id}"]')
    await expect(row).to_contain_text("11/28/26, 6:36 AM")
    await expect(row).to_contain_text("6 minutes 55 seconds")
    await expect(page.locator(".counts")).to_contain_text("Times in Vietnam Time")
    await shoot(page, "en-history", bridge)
    await page.get_by_role("link", name="Reports", exact=True).click()
    await page.get_by_role("link", name="Today", exact=True).click()
    received = page.locator(".fact", has=page.locator("dt", has_text="Chats received"))
    await expect(received.locator("dd").first).to_have_text("3")
    await expect(received.locator("dd.previous")).to_have_text("previous period: 1")
    await shoot(page, "en-reports", bridge)
    await page.get_by_role("link", name="Settings", exact=True).click()
    hours = page.locator("#hours")
    await hours.get_by_label("Time zone").select_option(HANOI)
    await hours.get_by_role("button", name="Save").click()
    await expect(hours.locator(".hint")).to_contain_text(
        "Stored: open 08:00 to 17:00 on Mon, Tue, Wed, Thu, Fri (Vietnam Time"
    )
    await shoot(page, "en-settings", bridge)
    # The picker's long labels do not widen a phone's page.
    await page.set_viewport_size({"width": 390, "height": 900})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
