"""One person on several channels, over HTTP against the real app and the local fake of
Zalo (both engines): a website visitor gives a phone in the pre-chat form; later a Zalo
user shares the same phone with the OA (Zalo's signed ``user_submit_info``, in ``+84``
form); the Zalo chat's card and thread name the website's chats and how far the match
is verified; the history by customer (``@Bot history``, the console) lists both; an
agent unlinks the match (audited); a different phone matches nothing; a website client
cannot pass a "verified" phone off as Zalo's."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select

from bot import keys
from dialogs.activity import SHARED_CONTACT_EVENT
from dialogs.i18n import Texts
from store.console_models import AuditEntry
from store.matches import contact_of, phone_number
from store.models import Customer, CustomerContact, CustomerUnlink
from store.vocabulary import ContactTrust
from tests import activities as act
from tests import test_zalo
from tests.conftest import Bridge, BridgeFactory, OpenChat, accept, open_chat, setup_room
from tests.test_bridge import card_of, card_text
from tests.test_console import ask_for_link, browser, get, sign_in
from tests.test_team import MAI, MINH, say
from tests.test_zalo import deliver, zalo_bridge, zalo_chat
from tests.zalo_fake import APP_ID, OA_ID, ZaloFake

WEB_PHONE = "0912 345 678"  # as the visitor typed it in the form
ZALO_PHONE = "+84912345678"  # as the Zalo user shares it
zalo = test_zalo.zalo  # the fake Zalo server, a fixture


def test_contacts_are_kept_in_one_form() -> None:
    same = {"0912 345 678", "0912.345.678", "+84 912-345-678", "84912345678", "+84 0912345678"}
    assert {phone_number(said) for said in same} == {"+84912345678"}
    assert phone_number("0084 912 345 678") == "+84912345678"
    assert phone_number("+1 (415) 555-0100") == "+14155550100"
    for not_a_phone in ("12345678", "912345678", "0912abc678", "+12", "lan@example.com", ""):
        assert phone_number(not_a_phone) is None, not_a_phone
    found = contact_of("  Lan.Nguyen@Example.COM ")
    assert found is not None and (found.kind, found.value) == ("email", "lan.nguyen@example.com")
    assert contact_of("lan@") is None and contact_of("a b@c.d") is None


def shared_info(user: str, phone: str, timestamp: str = "1765000000500") -> bytes:
    """Zalo's ``user_submit_info``: the user shared their phone and name with the OA."""
    return json.dumps(
        {
            "app_id": APP_ID,
            "oa_id": OA_ID,
            "event_name": "user_submit_info",
            "timestamp": timestamp,
            "sender": {"id": user},
            "recipient": {"id": OA_ID},
            "info": {"name": "Lan Nguyễn", "phone": phone, "address": "", "city": ""},
            "user_id_by_app": f"app-{user}",
        },
        ensure_ascii=False,
    ).encode()


async def web_chat(bridge: Bridge, user: str, contact: str, text: str) -> OpenChat:
    prechat = {"channelData": {"prechat": {"name": "Lan", "contact": contact}}}
    return await open_chat(bridge, user, text, **prechat)


def latest_card(bridge: Bridge, chat: OpenChat) -> dict[str, Any]:
    """The chat's card as the room last got it (its last update, or as posted)."""
    updates = bridge.connector.updates(chat.thread, chat.card_id)
    if updates:
        return updates[-1]["attachments"][0]["content"]
    created = next(c for c in bridge.connector.created() if c.conversation_id == chat.thread)
    return card_of(created.body["activity"])


async def listing(bridge: Bridge, text: str) -> str:
    before = len(bridge.connector.activities(act.ROOM))
    await bridge.post(act.room_message(bridge.service_url, MINH, text))
    await bridge.connector.wait_for(lambda: len(bridge.connector.activities(act.ROOM)) > before)
    return card_text(card_of(bridge.connector.activities(act.ROOM)[-1]))


async def thread_texts(bridge: Bridge, chat: OpenChat) -> list[str]:
    return [a.get("text") or "" for a in bridge.connector.activities(chat.thread)]


async def rows(bridge: Bridge, statement: Any) -> list[Any]:
    async with bridge.app[keys.ENGINE].connect() as connection:
        return list((await connection.execute(statement)).all())


async def test_a_website_visitor_who_moves_to_zalo_is_one_customer_for_agents(
    start_bridge: BridgeFactory, zalo: ZaloFake
) -> None:
    bridge = await zalo_bridge(start_bridge, zalo)
    await setup_room(bridge, MAI)
    # The website: a phone in the pre-chat form (given, not verified); a closed chat.
    website = await web_chat(bridge, "dl_lan", WEB_PHONE, "Tôi cần đổi hàng")
    await accept(bridge, website, MINH)
    await say(bridge, website, MINH, "/close")
    # Someone else on the website, with another phone: never matched.
    other = await web_chat(bridge, "dl_other", "0987 654 321", "Hỏi giá")
    # Later, Zalo: the card knows nothing yet (no phone shared).
    zalo.names["z-lan"] = "Lan Zalo"
    on_zalo = await zalo_chat(bridge, "z-lan", "Chào shop, tôi đã hỏi trên web", "m-1")
    assert "Also wrote from" not in card_text(latest_card(bridge, on_zalo))
    # The user shares their Zalo phone with the OA (+84 form): verified by Zalo.
    assert await deliver(bridge, shared_info("z-lan", ZALO_PHONE)) == 200
    await bridge.settled()
    card = card_text(latest_card(bridge, on_zalo))
    assert "Website: 1 earlier chat(s), same phone number." in card, card
    assert "Here: verified by Zalo; there: given by the customer, not verified." in card
    assert f"/transcripts/{website.chat_id}" in json.dumps(latest_card(bridge, on_zalo))
    told = await thread_texts(bridge, on_zalo)
    assert any(
        "shared their phone number through Zalo" in t and ZALO_PHONE in t and "Website" in t
        for t in told
    ), told
    # The same delivery again does nothing twice.
    before = len(await thread_texts(bridge, on_zalo))
    assert await deliver(bridge, shared_info("z-lan", ZALO_PHONE)) == 200
    await bridge.settled()
    assert len(await thread_texts(bridge, on_zalo)) == before
    # The other visitor's card and history name no one.
    assert "Also wrote from" not in card_text(latest_card(bridge, other))

    # History by customer: by either name or the phone in any form, both chats.
    await accept(bridge, on_zalo, MINH)
    await say(bridge, on_zalo, MINH, "/close")
    for asked in ("history Lan Zalo", "history 0912345678", f"history {ZALO_PHONE}"):
        found = await listing(bridge, asked)
        assert "Lan Zalo" in found and "Lan," in found, (asked, found)
    assert "Lan Zalo" not in await listing(bridge, "history 0987654321")
    # The console's history too.
    token = await ask_for_link(bridge, MAI)
    async with browser() as http:
        assert await sign_in(bridge, http, token) == 302
        page = await (await get(http, bridge, "/console/history", customer="Lan Zalo")).text()
        assert "2 chats found" in page, page

    # A new Zalo chat: its first card names the website chat at once.
    again = await zalo_chat(bridge, "z-lan", "Lại là tôi", "m-2")
    card = card_text(latest_card(bridge, again))
    assert "Website: 1 earlier chat(s), same phone number." in card, card

    # A wrong match: an agent unlinks it; the card forgets it; recorded in the audit.
    await accept(bridge, again, MINH)
    await say(bridge, again, MINH, "/unlink")
    assert "unlinked 1 customer(s)" in (await thread_texts(bridge, again))[-1]
    assert "Also wrote from" not in card_text(latest_card(bridge, again))
    assert "Lan," not in await listing(bridge, "history Lan Zalo")
    assert len(await rows(bridge, select(CustomerUnlink.id))) == 2  # both ways round
    audit = await rows(bridge, select(AuditEntry.action, AuditEntry.detail))
    assert [a for a, _ in audit if a == "unlink customers"], audit
    await say(bridge, again, MINH, "/unlink")
    assert "no customer of another channel" in (await thread_texts(bridge, again))[-1]


async def test_an_agent_records_a_contact_and_the_match_shows(
    start_bridge: BridgeFactory, zalo: ZaloFake
) -> None:
    bridge = await zalo_bridge(start_bridge, zalo)
    await setup_room(bridge, MAI)
    website = await web_chat(bridge, "dl_binh", "Binh@Example.com", "Xin chào")
    on_zalo = await zalo_chat(bridge, "z-binh", "Chào", "m-9")
    await accept(bridge, on_zalo, MINH)
    await say(bridge, on_zalo, MINH, "/contact nope")
    assert "write **/contact**" in (await thread_texts(bridge, on_zalo))[-1]
    await say(bridge, on_zalo, MINH, "/contact binh@example.COM")
    said = (await thread_texts(bridge, on_zalo))[-1]
    assert "recorded the customer's contact: binh@example.com" in said, said
    card = card_text(latest_card(bridge, on_zalo))
    assert "Website: 1 earlier chat(s), same e-mail address." in card, card
    assert "Here: recorded by an agent; there: given by the customer, not verified." in card
    # Someone not in the chat may not record it (and nothing is kept).
    stranger = act.agent(7, "Stranger")
    await say(bridge, website, stranger, "/contact +84 900 000 000")
    kept = await rows(bridge, select(CustomerContact.value))
    assert ("+84900000000",) not in kept


async def test_a_website_client_cannot_pass_off_a_verified_phone(bridge: Bridge) -> None:
    """The shared-contact event is believed only from a channel that verifies contacts
    (Zalo, through its signed webhook): sent by a web chat client it keeps nothing."""
    await setup_room(bridge, MAI)
    await open_chat(bridge, "dl_mallory", "hello")
    forged = act.webchat_message(bridge.service_url, "dl_mallory", "")
    forged.update(type="event", name=SHARED_CONTACT_EVENT, value={"phone": ZALO_PHONE})
    assert (await bridge.post(forged)).status in (200, 201)
    await bridge.settled()
    assert await rows(bridge, select(CustomerContact.id)) == []


async def test_two_chats_arriving_at_once_with_the_same_phone(
    start_bridge: BridgeFactory, zalo: ZaloFake
) -> None:
    """Two website visitors give the same phone at the same moment: each keeps its own
    contact (a match is read, never written, so there is nothing to race on), and the
    Zalo chat of the same phone names both."""
    bridge = await zalo_bridge(start_bridge, zalo)
    await setup_room(bridge, MAI)

    async def visit(user: str) -> None:
        activity = act.webchat_message(bridge.service_url, user, "Xin chào")
        activity["channelData"] = {"prechat": {"contact": WEB_PHONE}}
        assert (await bridge.post(activity)).status == 201

    await asyncio.gather(visit("dl_a"), visit("dl_b"))
    await bridge.settled()
    kept = await rows(bridge, select(CustomerContact.value, CustomerContact.trust))
    assert sorted(kept) == [(ZALO_PHONE, ContactTrust.GIVEN)] * 2
    on_zalo = await zalo_chat(bridge, "z-ab", "Chào", "m-5")
    assert await deliver(bridge, shared_info("z-ab", "84912345678")) == 200
    await bridge.settled()
    card = card_text(latest_card(bridge, on_zalo))
    assert "Website: 2 earlier chat(s), same phone number." in card, card
    customers = await rows(bridge, select(Customer.channel_id, Customer.contact))
    assert ("zalo", ZALO_PHONE) in customers


async def test_an_agent_asks_a_zalo_customer_for_their_phone(
    start_bridge: BridgeFactory, zalo: ZaloFake
) -> None:
    """``/askphone`` sends Zalo's own form (``request_user_info``) in the customer's
    language; the answer comes back verified. On the website it is not offered."""
    bridge = await zalo_bridge(start_bridge, zalo)
    await setup_room(bridge, MAI)
    on_zalo = await zalo_chat(bridge, "z-an", "Chào", "m-7")
    website = await web_chat(bridge, "dl_an", "an@example.com", "Xin chào")
    await accept(bridge, on_zalo, MINH)
    await accept(bridge, website, MINH)
    await say(bridge, on_zalo, MINH, "/askphone")
    assert (
        "asked to share their phone number through Zalo"
        in (await thread_texts(bridge, on_zalo))[-1]
    )
    forms = [
        m["body"]["message"]["attachment"]["payload"]
        for m in zalo.messages
        if "attachment" in m["body"]["message"]
    ]
    assert [f["template_type"] for f in forms] == ["request_user_info"]
    # In the customer's language (Zalo says none: the bridge's default).
    t = Texts(bridge.settings.default_language)
    assert forms[0]["elements"][0] == {
        "title": t("contacts.ask_title"),
        "subtitle": t("contacts.ask_customer"),
    }
    await say(bridge, website, MINH, "/askphone")
    assert "Website cannot share" in (await thread_texts(bridge, website))[-1]
    # Someone not in the chat cannot have the customer asked.
    await say(bridge, on_zalo, act.agent(8, "Stranger"), "/askphone")
    assert len([m for m in zalo.messages if "attachment" in m["body"]["message"]]) == 1
