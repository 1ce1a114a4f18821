"""The console in a real browser: Debian's Chromium driven by Playwright.

Sign-in through the link the connector emulator received, the live page changing when
a chat is accepted in Teams, a history search with the transcript inside the console,
the report page's figures against values computed by hand, and a screenshot of each
page at 390 px and 1280 px in ``build/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from cards.times import exact_duration
from tests import activities as act
from tests.conftest import Bridge, ManualClock, accept, go_online, open_chat, setup_room
from tests.test_console import ask_for_link, seed_report

CHROMIUM = shutil.which("chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
WIDTHS = {"phone": 390, "desktop": 1280}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        await launched.close()


async def signed_in_page(
    browser: Browser, bridge: Bridge, who: act.Agent, width: int, button: str = "Sign in"
) -> Page:
    """A new browser context signed in through the link the bot sent ``who`` in Teams
    (``button``: the sign-in button's words in the console's language)."""
    token = await ask_for_link(bridge, who)
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    await page.goto(str(bridge.server.make_url(f"/console/signin/{token}")))
    await page.get_by_role("button", name=button).click()
    await page.wait_for_url("**/console/live")
    return page


async def shoot(page: Page, name: str, bridge: Bridge) -> None:
    """A full-page screenshot at every width (the engine in the name: both runs keep theirs)."""
    engine = "pg" if bridge.settings.database_url.startswith("postgresql") else "sqlite"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, width in WIDTHS.items():
        await page.set_viewport_size({"width": width, "height": 900})
        await page.screenshot(
            path=SCREENSHOTS / f"console-{name}-{label}-{engine}.png", full_page=True
        )


async def test_sign_in_live_updates_history_and_transcript(
    browser: Browser, bridge: Bridge
) -> None:
    room = await setup_room(bridge)
    binh = act.agent(5, "Agent Binh")
    await go_online(bridge, binh)
    chat = await open_chat(bridge, "c-live", "Tôi cần đổi hàng", name="Lan")
    page = await signed_in_page(browser, bridge, room.supervisor, 1280)
    row = page.locator(f'tr[data-chat="{chat.chat_id}"]')
    await expect(row).to_contain_text("Waiting for an agent")
    await expect(row.locator(".owner")).to_have_text("-")
    await shoot(page, "live-waiting", bridge)
    # Binh accepts in Teams: the open page changes without a reload.
    await accept(bridge, chat, binh)
    await expect(row).to_contain_text("In progress", timeout=8000)
    await expect(row.locator(".owner")).to_have_text("Agent Binh")
    await expect(row).to_contain_text("Agent Binh")  # a participant now
    await shoot(page, "live-active", bridge)
    # Closed: it leaves the live page and is found in the history by its text.
    message = act.room_message(
        bridge.service_url, binh, "/close", thread=chat.thread, mention_bot=False
    )
    await bridge.post(message)
    await bridge.settled()
    await expect(row).to_have_count(0, timeout=8000)
    await page.get_by_role("link", name="History").click()
    await page.get_by_label("Text").fill("đổi hàng")
    await page.get_by_role("button", name="Search").click()
    found = page.locator(f'tr[data-chat="{chat.chat_id}"]')
    await expect(found).to_contain_text("Agent Binh")
    await expect(page.locator(".counts")).to_contain_text("1 chats found")
    await shoot(page, "history", bridge)
    await found.get_by_role("link", name="Transcript").click()
    transcript = page.frame_locator("iframe.transcript")
    await expect(transcript.locator("body")).to_contain_text("Tôi cần đổi hàng")
    await shoot(page, "transcript", bridge)
    # Nothing else in the history: a search for another text finds nothing.
    await page.goto(str(bridge.server.make_url("/console/history?text=nothing-like-this")))
    await expect(page.locator(".empty")).to_be_visible()


async def test_the_report_page_shows_the_figures_computed_by_hand(
    browser: Browser, start_bridge: Any
) -> None:
    clock = ManualClock()
    bridge = await start_bridge(clock)
    seeded = await seed_report(bridge, clock)
    page = await signed_in_page(browser, bridge, seeded["mai"], 390)
    await page.get_by_role("link", name="Reports").click()
    expected = {
        "Chats received": "3",
        "Accepted": "2",
        "Missed (closed without an accept)": "1",
        # Accept after 30 s and 90 s; first replies 40 s and 150 s after opening;
        # handling 570 s and 1110 s: median / 90th percentile (nearest rank).
        "Time to accept": "median 30 seconds / 90th percentile 1 minute 30 seconds",
        "Time to first reply": "median 40 seconds / 90th percentile 2 minutes 30 seconds",
        "Handling time": "median 9 minutes 30 seconds / 90th percentile 18 minutes 30 seconds",
    }
    for label, value in expected.items():
        fact = page.locator(".fact", has=page.locator("dt", has_text=label)).first
        await expect(fact.locator("dd").first).to_have_text(value)
    # The charts are drawn on the server and fit a phone's width.
    charts = page.locator("figure.chart svg")
    await expect(charts).to_have_count(3)
    box = await charts.first.bounding_box()
    assert box is not None and box["width"] <= 390
    hours = page.locator("figure.chart").first.locator("rect.bar")
    await expect(hours).to_have_count(24)
    await shoot(page, "reports", bridge)


@pytest.mark.parametrize("language", ["en", "vi"])
async def test_a_report_of_settled_days_says_its_percentiles_are_binned(
    browser: Browser, start_bridge: Any, language: str
) -> None:
    """Three days later the seeded day is settled: the week's report reads it from its
    daily roll-up (on the first load as on the next), the same counts, percentiles from
    the day's histograms (30 s and 90 s shown as their buckets' middles: 30 s, 1m 29s),
    and the page says so in the team's language."""
    clock = ManualClock()
    bridge = await start_bridge(clock, default_language=language)
    seeded = await seed_report(bridge, clock)
    clock.advance(3 * 86400)
    button, note = {
        "en": ("Sign in", "read from daily histograms"),
        "vi": ("Đăng nhập", "tính từ biểu đồ phân bố theo ngày"),
    }[language]
    page = await signed_in_page(browser, bridge, seeded["mai"], 390, button)
    for _ in range(2):  # computed and kept, then read from the kept day
        await page.goto(str(bridge.server.make_url("/console/reports")))
        facts = page.locator(".fact dd:not(.previous)")
        await expect(facts.nth(0)).to_have_text("3")
        await expect(facts.nth(2)).to_have_text("1")
        for said in (exact_duration(30, language), exact_duration(89, language)):
            await expect(facts.nth(3)).to_contain_text(said)
        await expect(page.locator("p.hint")).to_contain_text(note)
    await shoot(page, f"reports-binned-{language}", bridge)


async def test_a_settings_change_takes_effect_in_the_next_chat(
    browser: Browser, start_bridge: Any
) -> None:
    clock = ManualClock()
    saturday_morning_in_hanoi = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    clock.advance((saturday_morning_in_hanoi - clock()).total_seconds())
    bridge = await start_bridge(clock)
    room = await setup_room(bridge)
    await go_online(bridge, room.supervisor)
    page = await signed_in_page(browser, bridge, room.supervisor, 1280)
    await page.get_by_role("link", name="Settings").click()
    hours = page.locator("#hours")
    await hours.get_by_label("Time zone").select_option("Asia/Ho_Chi_Minh")
    await hours.get_by_label("Opens").fill("08:00")
    await hours.get_by_label("Closes").fill("17:00")
    await hours.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")
    await expect(page.locator("#hours .hint")).to_contain_text(
        "Stored: open 08:00 to 17:00 on Mon, Tue, Wed, Thu, Fri (Vietnam Time"
    )
    await expect(page.locator("#audit")).to_contain_text("Supervisor Mai")
    await shoot(page, "settings", bridge)
    # The next chat: the customer hears when the team is back, the card says so.
    chat = await open_chat(bridge, "c-weekend", "Hello?", locale="en-US")
    told = bridge.connector.texts(chat.conversation)[-1]
    # A time and a zone people say, never the raw zone name.
    assert "back at 08:00 on Monday 30 November 2026 (Vietnam Time)" in told
    assert "Asia/" not in told


async def test_an_ended_session_takes_the_open_live_page_to_sign_in(
    browser: Browser, bridge: Bridge
) -> None:
    """Issue 23 (4, 5): signed out everywhere from Teams, the open live page leaves for the
    sign-in help by itself; its header offers both sign-outs on a phone."""
    room = await setup_room(bridge)
    page = await signed_in_page(browser, bridge, room.supervisor, 390)
    await expect(page.get_by_role("button", name="Sign out everywhere")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()
    await shoot(page, "live-signout", bridge)
    signout = act.room_message(bridge.service_url, room.supervisor, "console signout")
    assert (await bridge.post(signout)).status == 201
    await page.wait_for_url("**/console/", timeout=8000)
    await expect(page.locator("body")).to_contain_text("@Bot console")
