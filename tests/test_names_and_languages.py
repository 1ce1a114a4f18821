"""Names and languages: anonymous visitors get a short stable name agents can tell apart,
the request card names the customer's language, a department has a name per customer
language, and the bridge's notices and agents' lines say who speaks."""

from __future__ import annotations

from sqlalchemy import select, update

from bot import keys
from dialogs.activity import offered_contact
from dialogs.intake import anonymous, visitor_number
from dialogs.replies import initials
from store.console_models import AuditEntry
from store.models import Department
from tests import activities as act
from tests.conftest import BridgeFactory, accept, open_chat, setup_room
from tests.test_bridge import card_of, card_text
from tests.test_console import ask_for_link, browser, get, sign_in
from tests.test_console_settings import change
from tests.test_routing import SALES, two_departments


def customer_fact(card: dict) -> str:
    facts = next(item for item in card["body"] if item["type"] == "FactSet")["facts"]
    return facts[0]["value"]


async def test_anonymous_visitors_get_distinct_stable_names_and_the_card_names_the_language(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge(default_language="vi")
    await setup_room(bridge)
    # The website sends "Visitor" / "Quý khách" for a visitor who gave no name.
    first = await open_chat(bridge, "v-1", "Hi, my parcel?", name="Visitor", locale="en-US")
    second = await open_chat(bridge, "v-2", "Chào shop", name="Quý khách", locale="vi-VN")
    named = await open_chat(bridge, "v-3", "Hi", name="Peter Tran", locale="en-GB")
    cards = [card_of(c.body["activity"]) for c in bridge.connector.created()]
    one, two, three = (customer_fact(card) for card in cards)
    assert one.startswith("Khách #") and one.endswith("· Website · Tiếng Anh")
    assert two.startswith("Khách #") and two.endswith("· Tiếng Việt")
    assert one.split(" · ")[0] != two.split(" · ")[0]
    assert three == "Peter Tran · Website · Tiếng Anh"
    # The same visitor keeps their number on the next message, in the thread too.
    again = act.webchat_message(bridge.service_url, "v-1", "Any news?", name="Visitor")
    response = await bridge.post(again)
    assert response.status == 201
    await bridge.settled()
    assert bridge.connector.texts(first.thread)[-1] == f"**{one.split(' · ')[0]}:** Any news?"
    assert second.thread != named.thread


async def test_a_department_named_per_language_in_customers_texts(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge()
    room = await setup_room(bridge)
    async with browser() as http:
        assert await sign_in(bridge, http, await ask_for_link(bridge, room.supervisor)) == 302
        page = await (await get(http, bridge, "/console/settings")).text()
        assert 'name="name_vi"' in page and 'name="name_en"' in page
        location = await change(http, bridge, "names", name_vi="Hỗ trợ đơn hàng", name_en="")
        assert "saved=1" in location
        assert "error=names" in await change(http, bridge, "names", name_vi="x" * 61)
    async with bridge.app[keys.ENGINE].connect() as connection:
        names = await connection.scalar(select(Department.names))
        audit = await connection.scalar(
            select(AuditEntry.action).order_by(AuditEntry.id.desc()).limit(1)
        )
    assert names == {"vi": "Hỗ trợ đơn hàng"} and audit == "names"
    vi_chat = await open_chat(bridge, "c-vi", "Đơn của tôi đâu?", locale="vi-VN")
    [told] = bridge.connector.texts(vi_chat.conversation)
    assert "bộ phận Hỗ trợ đơn hàng chưa có nhân viên trực tuyến" in told
    # No English name given: the default department in the customer's words.
    en_chat = await open_chat(bridge, "c-en", "Where is my order?", locale="en-US")
    [told] = bridge.connector.texts(en_chat.conversation)
    assert "Nobody from Customer Support is online" in told
    # The notice is marked as the bridge's own; an agent's line carries the agent.
    [notice] = bridge.connector.activities(en_chat.conversation)
    assert notice["channelData"]["supportBridge"] == {"kind": "notice"}
    owner = act.agent(5, "Trần Minh")
    await accept(bridge, en_chat, owner)
    joined = bridge.connector.activities(en_chat.conversation)[-1]
    # The accept's notice names who helps now (the page's header shows it).
    assert joined["channelData"]["supportBridge"] == {"kind": "notice", "helper": "Trần Minh"}
    response = await bridge.post(act.reply(bridge.service_url, owner, en_chat.thread, "On it"))
    assert response.status == 201
    await bridge.settled()
    line = bridge.connector.activities(en_chat.conversation)[-1]
    assert line["text"] == "On it" and line["from"]["name"] == "Trần Minh"
    assert line["channelData"]["supportBridge"]["initials"] == "TM"
    assert "Outside" not in card_text(card_of(bridge.connector.created()[-1].body["activity"]))


async def test_the_greeting_comes_first_and_one_notice_not_two(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge()
    await setup_room(bridge)
    # The widget says the visitor opened the chat: greeted before they write, once.
    join = {
        **act.webchat_message(bridge.service_url, "c-join", "", locale="vi-VN"),
        "type": "event",
        "name": "webchat/join",
    }
    join.pop("text")
    for _ in range(2):
        assert (await bridge.post({**join, "id": act.next_id()})).status == 201
    await bridge.settled()
    assert bridge.connector.texts("conv-c-join") == [
        "Xin chào Quý khách! Chúng tôi có thể giúp gì ạ?"
    ]
    # The widget showed its own "nobody online" line: the answer does not repeat it.
    chat = await open_chat(
        bridge,
        "c-join",
        "Đơn của tôi đâu?",
        channelData={"supportBridge": {"offlineShown": True}},
    )
    told = bridge.connector.texts(chat.conversation)[-1]
    assert "lưu lại" in told and "chưa có nhân viên trực tuyến" not in told
    assert told.count("Quý khách") <= 2
    # A channel that never says who joined (a Teams personal chat): the first reply leads
    # with the greeting.
    personal = {"id": "a:personal-hello", "conversationType": "personal", "tenantId": "x"}
    first = act.webchat_message(
        bridge.service_url, "29:p", "Hi", channel="msteams", locale="en-US",
        conversation=personal,
    )
    assert (await bridge.post(first)).status == 201
    await bridge.settled()
    [hello] = bridge.connector.texts(personal["id"])
    assert hello.startswith("Hello! Thank you! Nobody from Customer Support is online")


def test_what_a_customer_writes_back_as_a_contact() -> None:
    assert offered_contact("email của tôi: lan.nguyen@shop.vn nhé") == "lan.nguyen@shop.vn"
    assert offered_contact(" 0901 234 567 ") == "0901 234 567"
    assert offered_contact("+84 90-123-4567") == "+84 90-123-4567"
    # A number inside a sentence is an order, an amount...: not a contact.
    assert offered_contact("đơn 0901234567 của tôi") is None
    assert offered_contact("đơn 12345") is None and offered_contact("a@b") is None
    assert offered_contact("12345678") is None  # an order number, not a phone


def test_initials_and_visitor_numbers() -> None:
    assert initials("Nguyễn Thị Lan") == "NL" and initials("minh") == "M"
    assert initials("  ") == "?"
    numbers = {visitor_number(f"dl_{n}") for n in range(200)}
    assert all(1000 <= n <= 9999 for n in numbers) and len(numbers) > 190
    assert visitor_number("dl_x") == visitor_number("dl_x")
    assert anonymous("Visitor", ("dl_x",)) and anonymous("quý khách", ("dl_x",))
    assert anonymous("dl_x", ("dl_x",)) and not anonymous("Lan", ("dl_x",))


async def test_the_department_question_names_departments_in_the_customers_language(
    start_bridge: BridgeFactory,
) -> None:
    bridge = await start_bridge()
    await two_departments(bridge)
    async with bridge.app[keys.ENGINE].begin() as connection:
        await connection.execute(
            update(Department).where(Department.key == "sales").values(names={"vi": "Kinh doanh"})
        )

    async def say(customer: str, text: str, locale: str) -> None:
        message = act.webchat_message(bridge.service_url, customer, text, locale=locale)
        assert (await bridge.post(message)).status == 201
        await bridge.settled()

    await say("c-vi", "Tôi muốn mua hàng", "vi-VN")
    [question] = bridge.connector.activities("conv-c-vi")
    assert [a["value"] for a in question["suggestedActions"]["actions"]] == [
        "Support",
        "Kinh doanh",
    ]
    await say("c-vi", "Kinh doanh", "vi-VN")
    created = bridge.connector.created()[0]
    assert created.body["channelData"]["channel"]["id"] == SALES
    card = card_of(created.body["activity"])
    assert card["body"][1]["text"] == "Tôi muốn mua hàng"
    assert "Kinh doanh" not in card_text(card)  # the tapped name is not a question line
    await say("c-en", "I want to buy", "en-US")
    [question] = bridge.connector.activities("conv-c-en")
    assert [a["value"] for a in question["suggestedActions"]["actions"]] == ["Support", "Sales"]
