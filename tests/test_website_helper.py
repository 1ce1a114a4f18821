"""The customer's header names who is helping, and only while someone is, in a real
browser (Chromium, Web Chat, the bridge in local mode): the agent who accepts, the one a
transfer hands the chat to, then nobody once the chat is closed, also after a reload, a
return to a conversation closed while the customer was away, and "New conversation"; the
widget's header around the panel follows. Pages are saved at 390 and 1280 px, in
Vietnamese and English (``build/screenshots``).

SQLite only, like ``test_website``: the notices themselves are checked on both engines
through the HTTP tests of the team's moves.
"""

# The browser fixtures come from ``test_website``; pytest passes them by name.
# ruff: noqa: F811

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Frame, Page, expect

from dialogs.i18n import Texts
from tests import activities as act
from tests.browser import Site, screenshots
from tests.conftest import Bridge, BridgeFactory, OpenChat, accept, go_online, setup_room
from tests.test_team import offer_of, press
from tests.test_website import (  # noqa: F401  (fixtures)
    agent_says,
    browser,
    database_url,
    front_door,
    new_chat,
    say,
    shown,
    site,
)
from tests.test_website_kept import LOCALES

MINH = act.agent(2, "Minh Anh")
HUNG = act.agent(3, "Hùng")


async def team_online(start_bridge: BridgeFactory, site: Site, *agents: act.Agent) -> Bridge:
    """The bridge behind the site's front door, its room set up and ``agents`` online."""
    bridge = await front_door(start_bridge, site)
    await setup_room(bridge)
    for agent in agents:
        await go_online(bridge, agent)
    return bridge


async def transfer(bridge: Bridge, chat: OpenChat, sender: act.Agent, to: act.Agent) -> None:
    """``sender`` writes ``/transfer @to`` in the thread and ``to`` takes the chat."""
    text = f"/transfer @{to.name}"
    command = act.reply(bridge.service_url, sender, chat.thread, text, mentions=(to,))
    assert (await bridge.post(command)).status == 201
    await bridge.settled()
    await press(bridge, chat, to, "take", offer=offer_of(bridge, chat)["offer"])


async def chat_in_panel(page: Page) -> Frame:
    """The chat page inside the widget's panel, once it has loaded."""
    panel = page.frame_locator("#support-bridge-widget iframe")
    await expect(panel.locator("#status")).to_be_attached(timeout=10_000)
    return next(f for f in page.frames if "/chat?" in f.url)


async def kept_helper(page: Page) -> str:
    """Who the conversation kept in localStorage says is helping."""
    return await page.evaluate(
        "() => JSON.parse(localStorage.getItem('supportBridge.chat')).agent"
    )


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_the_header_names_the_helper_until_the_chat_is_closed(
    start_bridge: BridgeFactory, site: Site, browser: Browser, lang: str
) -> None:
    t = Texts(lang)
    bridge = await team_online(start_bridge, site, MINH, HUNG)
    context = await browser.new_context(
        viewport={"width": 390, "height": 800}, locale=LOCALES[lang]
    )
    page = await context.new_page()
    url = str(bridge.server.make_url(f"/chat?lang={lang}"))
    await page.goto(url)
    status = page.locator("#status")
    await expect(status).to_have_text(t("web.status_online"))
    await say(page, "Đơn hàng 123 của tôi đến đâu rồi?")
    chat = await new_chat(bridge, 0)
    # The Accept names the agent at once, before they write anything.
    await accept(bridge, chat, MINH)
    await shown(page, t("customer.agent_joined", agent="Minh Anh"))
    await expect(status).to_have_text(t("web.helping", name="Minh Anh"))
    await agent_says(bridge, MINH, chat, "Em chuyển cho anh Hùng bên kho nhé.")
    await transfer(bridge, chat, MINH, HUNG)
    await shown(page, t("customer.agent_changed", agent="Hùng"))
    await expect(status).to_have_text(t("web.helping", name="Hùng"))
    await screenshots(page, f"chat-helper-transfer-{lang}")
    # The customer leaves the page; the chat is closed meanwhile.
    await page.close()
    await agent_says(bridge, HUNG, chat, "/close")
    await bridge.settled()
    back = await context.new_page()
    await back.goto(url)
    await shown(back, t("customer.chat_ended"))
    status = back.locator("#status")
    await expect(status).to_have_text(t("web.status_online"))
    assert await kept_helper(back) == ""
    await screenshots(back, f"chat-helper-closed-{lang}")
    # A reload shows the history, the close included, and still nobody helping.
    await back.reload()
    await shown(back, t("customer.chat_ended"))
    await expect(status).to_have_text(t("web.status_online"))
    await expect(back.get_by_text("Hùng", exact=False)).not_to_have_count(0)  # the history
    await expect(status).not_to_contain_text("Hùng")
    await back.get_by_role("button", name=t("web.new_conversation")).click()
    await expect(back.locator("#welcome")).to_be_visible()
    await expect(status).to_have_text(t("web.status_online"))
    await context.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_the_widgets_header_lets_go_of_the_agent_after_the_close(
    start_bridge: BridgeFactory, site: Site, browser: Browser, lang: str
) -> None:
    t = Texts(lang)
    bridge = await team_online(start_bridge, site, MINH)
    site.attributes = f'data-lang="{lang}"'
    page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale=LOCALES[lang])
    await page.goto(site.url("/shop/1"))
    widget = page.locator("#support-bridge-widget")
    helping = widget.locator(".helping")
    await widget.locator(".launcher").click()
    frame = await chat_in_panel(page)
    await say(frame, "Tôi muốn đổi size áo")
    chat = await new_chat(bridge, 0)
    await accept(bridge, chat, MINH)
    await expect(helping).to_have_text(t("web.helping", name="Minh Anh"), timeout=10_000)
    await agent_says(bridge, MINH, chat, "/close")
    await shown(frame, t("customer.chat_ended"))
    await expect(helping).to_be_hidden()
    await screenshots(page, f"widget-helper-closed-{lang}")
    # The shop's next page loads the chat again (its panel open, as it was left): its
    # header stays without a helper.
    await page.click("text=Next page")
    await page.wait_for_url("**/shop/2")
    await expect(widget.locator(".panel")).to_be_visible()
    frame = await chat_in_panel(page)
    await shown(frame, t("customer.chat_ended"))
    await expect(widget.locator(".helping")).to_be_hidden()
