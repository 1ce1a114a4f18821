"""The customer keeps the conversation, in a real browser (Chromium, Web Chat, the bridge in
local mode): a reply while the widget's panel is closed is noticed; a reload, another tab
and the next day show the same conversation, which goes on; a photo reaches the agents;
the pre-chat form's errors are said in words tied to their fields; the chat offers Zalo
and Messenger with QR codes. Pages are saved at 390 and 1280 px, in Vietnamese and English
(``build/screenshots``).

SQLite only, like ``test_website``: the store under these pages runs on both engines in
``test_front_door_kept``.
"""

# The browser fixtures come from ``test_website``; pytest passes them by name.
# ruff: noqa: F811

from __future__ import annotations

import io
import re

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import Browser, Page, expect

from dialogs.i18n import Texts
from tests import activities as act
from tests.browser import Site, screenshots
from tests.conftest import BridgeFactory, accept, go_online, setup_room
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

LOCALES = {"vi": "vi-VN", "en": "en-US"}


def parcel_photo() -> bytes:
    """A picture the size of a phone's photo preview: a brown parcel on a grey floor."""
    picture = Image.new("RGB", (480, 320), "#d0d4da")
    drawing = ImageDraw.Draw(picture)
    drawing.rectangle((120, 70, 360, 260), fill="#b07a43", outline="#6b4423", width=6)
    drawing.line((120, 130, 360, 130), fill="#e8d8b0", width=14)
    drawing.polygon([(300, 70), (360, 70), (360, 110)], fill="#8a5a2b")  # the dented corner
    saved = io.BytesIO()
    picture.save(saved, "PNG")
    return saved.getvalue()


def chat_frame(page: Page) -> object:
    found = next((f for f in page.frames if "/chat?" in f.url), None)
    assert found is not None
    return found


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_reply_while_the_panel_is_closed_is_noticed(
    start_bridge: BridgeFactory, site: Site, browser: Browser, lang: str
) -> None:
    t = Texts(lang)
    bridge = await front_door(start_bridge, site)
    await setup_room(bridge)
    agent = act.agent(2, "Minh Anh")
    await go_online(bridge, agent)
    # The shop has its own sticky buttons at the bottom: the chat's button sits above them.
    site.attributes = f'data-lang="{lang}" data-offset="64"'
    page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale=LOCALES[lang])
    await page.goto(site.url("/shop/1"))
    widget = page.locator("#support-bridge-widget")
    launcher = widget.locator(".launcher")
    assert await launcher.evaluate("(button) => getComputedStyle(button).bottom") == "84px"
    await expect(launcher).to_have_attribute("aria-label", re.compile(t("web.button_online")))
    await launcher.click()
    panel = page.frame_locator("#support-bridge-widget iframe")
    # The welcome: who is there, before the first line.
    await expect(panel.locator("#faces li")).to_have_text(["MA"], timeout=10_000)
    await expect(panel.locator("#team-state")).to_have_text(t("web.online_now"))
    await screenshots(page, f"widget-welcome-{lang}")
    frame = chat_frame(page)
    await say(frame, "Đơn hàng 123 của tôi đến đâu rồi?")
    chat = await new_chat(bridge, 0)
    await accept(bridge, chat, agent)
    await shown(frame, t("customer.agent_joined", agent="Minh Anh"))
    await expect(panel.locator(".sb-notice").first).to_be_visible()  # the bridge's own line
    await launcher.click()
    await expect(widget.locator(".panel")).to_be_hidden()
    await expect(page).to_have_title("Example shop")
    await agent_says(bridge, agent, chat, "Đơn hàng đang được giao, chiều nay sẽ đến ạ.")
    badge = widget.locator(".badge")
    await expect(badge).to_have_text("1", timeout=10_000)
    await expect(page).to_have_title(re.compile(re.escape(t("web.unread_title", count=1))))
    preview = widget.locator(".preview")
    await expect(preview).to_contain_text("Minh Anh")
    await expect(preview).to_contain_text("chiều nay sẽ đến")
    await expect(launcher).to_have_attribute(
        "aria-label", re.compile(re.escape(t("web.unread_label", count=1)))
    )
    await expect(widget.locator("p[aria-live='polite']")).to_contain_text("chiều nay sẽ đến")
    await screenshots(page, f"widget-unread-{lang}")
    # Another page of the shop: still unread, until the visitor reads it.
    await page.click("text=Next page")
    await page.wait_for_url("**/shop/2")
    await expect(widget.locator(".badge")).to_have_text("1")
    await expect(page).to_have_title(re.compile(r"^\(1\) "))
    await widget.locator(".launcher").click()
    await expect(widget.locator(".badge")).to_be_hidden()
    await expect(page).to_have_title("Example shop")
    panel = page.frame_locator("#support-bridge-widget iframe")
    await expect(panel.locator(".sb-agent-name").first).to_contain_text("Minh Anh")
    await expect(widget.locator(".helping")).to_have_text(t("web.helping", name="Minh Anh"))
    await screenshots(page, f"widget-agent-{lang}")


async def test_a_reload_another_tab_and_the_next_day_show_the_same_conversation(
    start_bridge: BridgeFactory, site: Site, browser: Browser
) -> None:
    en = Texts("en")
    bridge = await front_door(start_bridge, site)
    room = await setup_room(bridge)
    mai = act.agent(2, "Mai")
    await go_online(bridge, mai)
    context = await browser.new_context(viewport={"width": 390, "height": 800})
    page = await context.new_page()
    url = str(bridge.server.make_url("/chat?lang=en"))
    await page.goto(url)
    await say(page, "Order 123 has not arrived")
    chat = await new_chat(bridge, 0)
    await accept(bridge, chat, mai)
    await agent_says(bridge, mai, chat, "We are checking with the courier")
    await shown(page, "We are checking with the courier")
    await page.reload()
    await shown(page, "Order 123 has not arrived")
    await shown(page, "We are checking with the courier")
    await expect(page.locator("#welcome")).to_be_hidden()
    await page.close()
    # While nobody has the chat open, the agent answers.
    await agent_says(bridge, mai, chat, "It arrives tomorrow morning")
    await bridge.settled()
    # The next day, in a new tab: the token has long expired (it is made unusable here),
    # the bridge renews it from its signed cookie, and the stream resumes from the watermark.
    stale = await context.new_page()
    await stale.goto(url)
    await stale.evaluate(
        """() => {
            const kept = JSON.parse(localStorage.getItem("supportBridge.chat"));
            kept.token = "expired." + kept.token;
            kept.until = Date.now() + 6 * 86400000;
            localStorage.setItem("supportBridge.chat", JSON.stringify(kept));
        }"""
    )
    await stale.close()
    tomorrow = await context.new_page()
    await tomorrow.goto(url)
    await shown(tomorrow, "Order 123 has not arrived")
    await shown(tomorrow, "It arrives tomorrow morning")
    # Once each (Web Chat's bubbles; its screen reader's live region repeats new lines).
    for line in ("It arrives tomorrow morning", "We are checking with the courier"):
        await expect(tomorrow.locator(".webchat__bubble", has_text=line)).to_have_count(1)
    await say(tomorrow, "Thank you, I will be at home")
    await bridge.connector.wait_for(
        lambda: any("I will be at home" in x for x in bridge.connector.texts(chat.thread))
    )
    assert len(bridge.connector.created()) == 1  # the same chat in the agents' room
    await screenshots(tomorrow, "chat-next-day-en")
    # The chat ends: one rating prompt (the card, no row of quick replies), locked once
    # answered, and still locked after a reload.
    await agent_says(bridge, room.supervisor, chat, "/close")
    rate = tomorrow.get_by_role("button", name=en("csat.choice_5"))
    await expect(rate).to_have_count(1, timeout=10_000)
    await expect(tomorrow.locator(".webchat__suggested-actions button")).to_have_count(0)
    await rate.click()
    await expect(tomorrow.locator(".sb-answered")).to_have_count(1)
    await tomorrow.reload()
    await shown(tomorrow, "It arrives tomorrow morning")
    await expect(tomorrow.get_by_role("button", name=en("csat.choice_5"))).to_have_count(0)
    # "New conversation" starts afresh; so does a conversation older than it is kept.
    await tomorrow.get_by_role("button", name=en("web.new_conversation")).click()
    await expect(tomorrow.locator("#welcome")).to_be_visible()
    await expect(tomorrow.get_by_text("It arrives tomorrow morning")).to_have_count(0)


async def test_a_photo_reaches_the_agents_thread_and_other_files_are_refused(
    start_bridge: BridgeFactory, site: Site, browser: Browser
) -> None:
    vi = Texts("vi")
    bridge = await front_door(start_bridge, site)
    await setup_room(bridge)
    page = await browser.new_page(viewport={"width": 390, "height": 800}, locale="vi-VN")
    await page.goto(str(bridge.server.make_url("/chat?lang=vi")))
    await say(page, "Em gửi ảnh kiện hàng bị móp")
    chat = await new_chat(bridge, 0)
    upload = page.locator("#webchat input[type=file]")
    await expect(upload).to_have_attribute("accept", re.compile("image/png"))
    await upload.set_input_files(
        [{"name": "setup.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"}]
    )
    await shown(page, vi("web.upload_refused", name="setup.exe", size=4))
    await upload.set_input_files(
        [{"name": "kien-hang.png", "mimeType": "image/png", "buffer": parcel_photo()}]
    )

    def pictures() -> list[dict[str, object]]:
        return [
            a
            for a in bridge.connector.activities(chat.thread)
            if any(f.get("name") == "kien-hang.png" for f in a.get("attachments") or [])
        ]

    await bridge.connector.wait_for(lambda: bool(pictures()), timeout=10)
    assert "setup.exe" not in str(bridge.connector.activities(chat.thread))
    await screenshots(page, "chat-photo-vi")


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_the_prechat_forms_errors_are_said_and_tied_to_their_fields(
    start_bridge: BridgeFactory, site: Site, browser: Browser, lang: str
) -> None:
    t = Texts(lang)
    bridge = await front_door(
        start_bridge, site, prechat_form="offline", privacy_url="https://shop.example/privacy"
    )
    await setup_room(bridge)
    page = await browser.new_page(viewport={"width": 390, "height": 800}, locale=LOCALES[lang])
    await page.goto(str(bridge.server.make_url(f"/chat?lang={lang}")))
    # Nobody is online: the short form asks for a contact to answer to.
    await expect(page.locator("#prechat-intro")).to_have_text(t("web.offline_prechat"))
    contact = page.locator("#prechat-contact")
    await expect(contact).to_have_attribute("aria-required", "true")
    await expect(page.locator("label[for=prechat-contact]")).to_contain_text(t("web.required"))
    privacy = page.get_by_role("link", name=t("web.privacy_link"))
    await expect(privacy).to_have_attribute("href", "https://shop.example/privacy")
    await page.get_by_role("button", name=t("web.start")).click()
    error = page.locator("#prechat-contact-error")
    await expect(error).to_have_text(t("web.error_contact"))
    await expect(error).to_have_attribute("role", "alert")
    await expect(contact).to_have_attribute("aria-invalid", "true")
    await expect(contact).to_have_attribute("aria-describedby", "prechat-contact-error")
    await expect(contact).to_be_focused()
    await expect(page.locator("#prechat-name")).to_have_attribute("aria-invalid", "false")
    await screenshots(page, f"prechat-errors-{lang}")
    await contact.fill("12ab")
    await page.get_by_role("button", name=t("web.start")).click()
    await expect(error).to_have_text(t("web.error_contact_format"))
    await contact.fill("lan@example.com")
    await page.get_by_role("button", name=t("web.start")).click()
    await expect(error).to_be_empty()
    await expect(contact).to_have_attribute("aria-invalid", "false")
    await say(page, "Shop có giao hàng ra Hà Nội không?")
    await new_chat(bridge, 0)
    card = bridge.connector.created()[0].body["activity"]["attachments"][0]["content"]
    assert "lan@example.com" in str(card)


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_chat_on_zalo_and_messenger_with_a_qr_code_for_desktop_visitors(
    start_bridge: BridgeFactory, site: Site, browser: Browser, lang: str
) -> None:
    t = Texts(lang)
    bridge = await front_door(
        start_bridge, site, zalo_oa_id="4318492057", messenger_page="shopvn"
    )
    await setup_room(bridge)
    page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale=LOCALES[lang])
    await page.goto(str(bridge.server.make_url(f"/chat?lang={lang}")))
    # Nobody online: the offline state says so and offers the messengers.
    await expect(page.locator("#offline-notice")).to_be_visible()
    zalo = page.get_by_role("link", name=t("web.chat_on_zalo"))
    messenger = page.get_by_role("link", name=t("web.chat_on_messenger"))
    await expect(zalo).to_have_attribute("href", "https://zalo.me/4318492057")
    await expect(messenger).to_have_attribute("href", "https://m.me/shopvn")
    codes = page.locator(".qr img")
    await expect(codes).to_have_count(2)
    await expect(codes.first).to_be_visible()
    loaded = await codes.evaluate_all("(images) => images.map((i) => i.naturalWidth)")
    assert all(width > 0 for width in loaded)
    await screenshots(page, f"chat-offers-{lang}")
    # Someone online: the welcome still offers them, with the team's faces.
    await go_online(bridge, act.agent(2, "Lan"))
    await page.reload()
    await expect(page.locator("#offline-notice")).to_be_hidden()
    await expect(page.locator("#faces li")).to_have_text(["L"])
    await expect(zalo).to_be_visible()
