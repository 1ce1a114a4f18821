"""The website front door in a real browser: Debian's Chromium driving Web Chat against the
real bridge in local mode (its own Direct Line), with the agents' side on the Bot
Connector emulator. Each page is also saved at 390 and 1280 px (``build/screenshots``).

These run on SQLite only: what they add over the HTTP tests is the browser, and the
store underneath is exercised on both engines by ``test_front_door``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Frame, Page, async_playwright, expect
from sqlalchemy import select

from dialogs.i18n import Texts
from store.models import Customer
from tests import activities as act
from tests.browser import Site, chromium, screenshots
from tests.conftest import (
    Bridge,
    BridgeFactory,
    OpenChat,
    accept,
    go_online,
    open_chat_body,
    setup_room,
)
from web import keys

SENDBOX = "[data-id='webchat-sendbox-input']"
VI, EN = Texts("vi"), Texts("en")


@pytest.fixture
async def database_url(tmp_path: Any) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/bridge.db"


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    running = Site()
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable)
        yield launched
        await launched.close()


async def front_door(start_bridge: BridgeFactory, site: Site, **overrides: Any) -> Bridge:
    bridge = await start_bridge(
        webchat_script_url=site.url("/webchat.js"),
        allowed_origins=frozenset({site.origin}),
        direct_line_enhanced_auth=True,
        **{"prechat_form": "off", **overrides},
    )
    site.widget_url = str(bridge.server.make_url("/widget.js"))
    return bridge


async def say(target: Page | Frame, text: str) -> None:
    box = target.locator(SENDBOX)
    await box.fill(text)
    await box.press("Enter")


async def shown(target: Page | Frame, text: str) -> None:
    await expect(target.get_by_text(text, exact=False).first).to_be_visible(timeout=10_000)


async def new_chat(bridge: Bridge, before: int) -> OpenChat:
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) > before)
    found = open_chat_body(bridge.connector.created()[before])
    await bridge.settled()
    return OpenChat("web", "", found["thread"], found["card_id"], found["chat"])


async def agent_says(bridge: Bridge, who: act.Agent, chat: OpenChat, text: str) -> None:
    await bridge.post(
        act.room_message(bridge.service_url, who, text, thread=chat.thread, mention_bot=False)
    )


async def test_chat_page_in_vietnamese_reaches_the_agent_and_shows_the_reply(
    start_bridge: BridgeFactory, site: Site, browser: Browser
) -> None:
    bridge = await front_door(start_bridge, site)
    await setup_room(bridge)
    mai = act.agent(2, "Mai")
    await go_online(bridge, mai)
    page = await browser.new_page(viewport={"width": 390, "height": 800}, locale="vi-VN")
    await page.goto(str(bridge.server.make_url("/chat")))
    await expect(page.locator("html")).to_have_attribute("lang", "vi")
    await expect(page.locator("h1")).to_have_text(VI("web.title"))
    await expect(page.locator("#status")).to_have_text(VI("web.status_online"))
    await say(page, "Xin chào, tôi muốn hỏi về đơn hàng số 123")
    await shown(page, VI("customer.ack", name=VI("web.guest")))
    chat = await new_chat(bridge, 0)
    await accept(bridge, chat, mai)
    await shown(page, VI("customer.agent_joined", agent="Mai"))
    await agent_says(bridge, mai, chat, "Chào Quý khách, em là Mai. Đơn hàng đang được giao ạ.")
    await shown(page, "Đơn hàng đang được giao ạ")
    await screenshots(page, "chat-vi")


async def test_widget_button_invitation_panel_and_leave_a_message(
    start_bridge: BridgeFactory, site: Site, browser: Browser
) -> None:
    bridge = await front_door(start_bridge, site)
    await setup_room(bridge)
    # Nobody online: the button says "leave us a message" and nobody invites.
    site.attributes = 'data-lang="en" data-invite-after="0"'
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(site.url("/shop/1"))
    launcher = page.locator("#support-bridge-widget .launcher")
    await expect(launcher).to_have_text(EN("web.button_offline"))
    await page.wait_for_timeout(500)
    await expect(page.locator("#support-bridge-widget .bubble")).to_be_hidden()
    await page.close()
    mai = act.agent(2, "Mai")
    await go_online(bridge, mai)
    # A delay long enough that a busy machine still checks "not yet" before it ends.
    site.attributes = 'data-lang="en" data-invite-after="4"'
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(site.url("/shop/1"))
    launcher = page.locator("#support-bridge-widget .launcher")
    await expect(launcher).to_have_text(EN("web.button_online"))
    await expect(launcher).to_have_attribute("aria-expanded", "false")
    bubble = page.locator("#support-bridge-widget .bubble")
    await expect(bubble).to_be_hidden()
    await page.wait_for_timeout(500)
    await expect(bubble).to_be_hidden()  # not before the delay
    await expect(bubble).to_be_visible(timeout=10000)
    await expect(bubble).to_contain_text(EN("web.greeting"))
    await screenshots(page, "widget-invitation")
    await bubble.get_by_role("button", name=EN("web.invite_reply")).click()
    await expect(launcher).to_have_attribute("aria-expanded", "true")
    panel = page.frame_locator("#support-bridge-widget iframe")
    await expect(panel.get_by_text(EN("web.greeting")).first).to_be_visible(timeout=10_000)
    frame = page.frames[-1]
    await say(frame, "Do you ship to Hanoi?")
    await shown(frame, EN("customer.ack"))
    await screenshots(page, "widget-panel")
    # Another page of the same site: the panel is open again with the same conversation.
    await page.click("text=Next page")
    await page.wait_for_url("**/shop/2")
    panel = page.frame_locator("#support-bridge-widget iframe")
    await expect(panel.get_by_text("Do you ship to Hanoi?").first).to_be_visible(timeout=10_000)
    # Escape closes it, from the chat (where the visitor types) or from the button, and the
    # button opens it again; the button is labelled for screen readers. The keys are
    # dispatched where they land, so no race with the chat for the focus decides the test.
    shown_panel = page.locator("#support-bridge-widget .panel")
    await panel.locator("body").dispatch_event("keydown", {"key": "Escape"})
    await expect(shown_panel).to_be_hidden()
    launcher = page.locator("#support-bridge-widget .launcher")
    await launcher.press("Enter")
    await expect(shown_panel).to_be_visible()
    await launcher.dispatch_event("keydown", {"key": "Escape"})
    await expect(shown_panel).to_be_hidden()
    # A new visitor's button says someone is online.
    fresh = await browser.new_page(viewport={"width": 390, "height": 800})
    await fresh.goto(site.url("/shop/1"))
    await expect(fresh.get_by_role("button", name=EN("web.button_online"))).to_be_visible()
    await screenshots(fresh, "widget-button")


async def test_prechat_form_skips_the_department_question(
    start_bridge: BridgeFactory, site: Site, browser: Browser
) -> None:
    bridge = await front_door(start_bridge, site, prechat_form="required")
    boss = (await setup_room(bridge)).supervisor  # a supervisor adds the Sales department
    sales_room = "19:room-sales@thread.tacv2"
    await bridge.post(act.room_message(bridge.service_url, boss, "setup Sales", room=sales_room))
    await bridge.settled()
    page = await browser.new_page(viewport={"width": 390, "height": 800})
    await page.goto(str(bridge.server.make_url("/chat?lang=en")))
    await screenshots(page, "prechat-form")
    await page.get_by_role("button", name=EN("web.start")).click()
    await expect(page.locator("#prechat-name")).to_have_attribute("aria-invalid", "true")
    await page.get_by_label(EN("web.name")).fill("Lan Nguyen")
    await page.get_by_label(EN("web.contact")).fill("lan@example.com")
    await page.get_by_label(EN("web.department")).select_option(label="Sales")
    await page.get_by_role("button", name=EN("web.start")).click()
    await say(page, "I would like a quote for 20 laptops")
    await shown(page, EN("customer.nobody_online", name="Lan Nguyen", department="Sales"))
    chat = await new_chat(bridge, 0)
    card = bridge.connector.created()[0].body
    assert card["channelData"]["channel"]["id"] == sales_room
    facts = {
        fact["title"]: fact["value"]
        for block in card["activity"]["attachments"][0]["content"]["body"]
        if block.get("type") == "FactSet"
        for fact in block["facts"]
    }
    assert facts[EN("card.customer")].startswith("Lan Nguyen")
    assert facts[EN("card.contact")] == "lan@example.com"
    assert chat.chat_id
    question = EN("customer.choose_department", name="Lan Nguyen")
    await expect(page.get_by_text(question)).to_have_count(0)
    await screenshots(page, "prechat-chat")


async def test_returning_visitor_is_the_same_customer(
    start_bridge: BridgeFactory, site: Site, browser: Browser
) -> None:
    bridge = await front_door(start_bridge, site)
    room = await setup_room(bridge)
    mai = act.agent(2, "Mai")
    await go_online(bridge, mai)
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    first_visit = await context.new_page()
    await first_visit.goto(str(bridge.server.make_url("/chat?lang=en")))
    await say(first_visit, "My order did not arrive")
    chat = await new_chat(bridge, 0)
    await accept(bridge, chat, mai)
    await agent_says(bridge, room.supervisor, chat, "/close")
    await bridge.settled()
    await first_visit.close()
    # Days later, a new tab: a new conversation, the same visitor (the signed cookie).
    second_visit = await context.new_page()
    await second_visit.goto(str(bridge.server.make_url("/chat?lang=en")))
    await say(second_visit, "Hello again")
    await new_chat(bridge, 1)
    card = bridge.connector.created()[1].body["activity"]["attachments"][0]["content"]
    assert EN("card.returning", count=1, owner="Mai") in str(card)
    async with bridge.app[keys.ENGINE].connect() as connection:
        users = (await connection.execute(select(Customer.user_id))).scalars().all()
    assert len(users) == 1 and users[0].startswith("dl_")
    await screenshots(second_visit, "chat-returning")


async def test_token_endpoint_refuses_a_foreign_origin_and_never_shows_the_secret(
    start_bridge: BridgeFactory, site: Site, browser: Browser
) -> None:
    bridge = await front_door(start_bridge, site)
    token_url = str(bridge.server.make_url("/api/directline/token"))
    ask = """async (url) => {
        try {
            const answer = await fetch(url, {method: "POST", credentials: "include",
                headers: {"Content-Type": "application/json"}, body: "{}"});
            return {status: answer.status, body: await answer.text()};
        } catch (error) { return {status: 0, body: String(error)}; }
    }"""
    page = await browser.new_page()
    await page.goto(site.url("/shop/1"))  # an allowed origin
    allowed = await page.evaluate(ask, token_url)
    assert allowed["status"] == 200
    local_secret = bridge.app[keys.LOCAL_DIRECT_LINE].secret
    assert '"token"' in allowed["body"] and local_secret not in allowed["body"]
    foreign = site.url("/shop/1").replace("127.0.0.1", "localhost")
    await page.goto(foreign)
    refused = await page.evaluate(ask, token_url)
    assert refused["status"] == 0  # the browser gets no readable answer
    assert local_secret not in refused["body"]
