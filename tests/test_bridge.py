"""The bridge end to end: setup, intake, request card, Accept, relay, close, transcript."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bot import keys
from tests import activities as act
from tests.conftest import Bridge, accept, accepted_chat, go_online, open_chat, setup_room

CARD = "application/vnd.microsoft.card.adaptive"
OWNER_VERBS = ["close", "transfer", "invite"]


def card_of(activity: dict) -> dict:
    attachment = activity["attachments"][0]
    assert attachment["contentType"] == CARD
    return attachment["content"]


def card_text(card: dict) -> str:
    parts: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key in ("text", "value", "title"):
                if isinstance(node.get(key), str):
                    parts.append(node[key])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(card)
    return "\n".join(parts)


def verbs(card: dict) -> list[str]:
    return [a.get("verb") or a["type"] for a in card.get("actions", [])]


async def test_bot_added_to_team_says_how_to_set_up(bridge: Bridge) -> None:
    response = await bridge.post(act.bot_added(bridge.service_url, act.agent(1)))
    assert response.status == 201
    texts = await bridge.connector.wait_for_texts(act.TEAM, 1)
    assert "setup" in texts[0] and "SupportBot" in texts[0]


async def test_setup_binds_the_room_and_names_the_supervisor(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    [done] = bridge.connector.activities(act.ROOM)
    assert "Support" in done["text"]
    assert done["entities"][0]["mentioned"]["id"] == room.supervisor.id


async def test_first_message_opens_a_chat_with_a_card_in_the_room(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    await go_online(bridge, room.supervisor)
    chat = await open_chat(bridge, "cust-1", "Xin chào, tôi cần hỗ trợ 🙏", name="Lan")
    # The customer is acknowledged in Vietnamese.
    [ack] = bridge.connector.texts(chat.conversation)
    assert ack.startswith("Cảm ơn Quý khách") and "hỗ trợ" in ack
    # The card went to the room's channel as a new thread, with the first message.
    created = bridge.connector.created()[0]
    assert created.body["channelData"]["channel"]["id"] == act.ROOM
    assert chat.thread.startswith(act.ROOM + ";messageid=")
    card = card_of(created.body["activity"])
    assert card["version"] == "1.5"
    assert "Lan" in card_text(card) and "Xin chào, tôi cần hỗ trợ 🙏" in card_text(card)
    # Everyone may accept; the supervisor's own view (refreshed by Teams) adds Join.
    assert verbs(card) == ["accept"]
    # A later message goes into the thread, text exact.
    await bridge.post(act.webchat_message(bridge.service_url, "cust-1", "Đơn hàng #123 😀"))
    texts = await bridge.connector.wait_for_texts(chat.thread, 1)
    assert texts[-1].endswith("Đơn hàng #123 😀")


async def test_english_customer_is_answered_in_english(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    await go_online(bridge, room.supervisor)
    chat = await open_chat(bridge, "cust-en", "Hello", name="John", locale="en-US")
    [ack] = bridge.connector.texts(chat.conversation)
    assert ack.startswith("Thank you for contacting us!")


async def test_accept_by_execute_updates_card_and_tells_customer(bridge: Bridge) -> None:
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-2", "Help please", locale="en-US")
    minh = act.agent(2, "Minh")
    data = {"action": "accept", "chat": chat.chat_id}
    response = await bridge.post(
        act.invoke_action(bridge.service_url, minh, chat.thread, "accept", data)
    )
    assert response.status == 200
    answer = await response.json()
    assert answer["statusCode"] == 200 and answer["type"] == CARD
    assert card_text(answer["value"]).startswith("Minh is helping")
    assert verbs(answer["value"]) == OWNER_VERBS
    # Everyone's card is updated in the thread, and the customer is told who joined.
    await bridge.connector.wait_for(lambda: bridge.connector.updates(chat.thread, chat.card_id))
    updated = card_of(bridge.connector.updates(chat.thread, chat.card_id)[-1])
    assert card_text(updated).startswith("Minh is helping")
    # The shared card has no buttons any more; Minh's own view comes through refresh.
    assert verbs(updated) == []
    assert updated["refresh"]["userIds"][0] == minh.id
    texts = await bridge.connector.wait_for_texts(chat.conversation, 2)
    assert "Minh" in texts[-1]


async def test_accept_by_submit_and_loser_is_told(bridge: Bridge) -> None:
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-3", "Hi", locale="en-US")
    hoa, tuan = act.agent(3, "Hoa"), act.agent(4, "Tuan")
    value = {"action": "accept", "chat": chat.chat_id}
    first = await bridge.post(
        act.room_message(bridge.service_url, hoa, "", thread=chat.thread, value=value)
    )
    second = await bridge.post(
        act.room_message(bridge.service_url, tuan, "", thread=chat.thread, value=value)
    )
    assert first.status == 201 and second.status == 201
    await bridge.settled()
    told = [a for a in bridge.connector.activities(chat.thread) if a.get("entities")]
    assert len(told) == 1
    assert told[0]["entities"][0]["mentioned"]["id"] == tuan.id
    assert "Hoa" in told[0]["text"]
    updated = card_of(bridge.connector.updates(chat.thread, chat.card_id)[-1])
    assert card_text(updated).startswith("Hoa is helping")


async def test_relay_both_ways_and_non_owner_is_not_relayed(bridge: Bridge) -> None:
    owner, other = act.agent(5, "Thu"), act.agent(6, "Long")
    chat = await accepted_chat(bridge, "cust-4", "Chào bạn", owner)
    before = len(bridge.connector.texts(chat.conversation))
    # Without an @mention (ChannelMessage.Read.Group), and with one: both relayed exactly.
    reply = "Dạ, em kiểm tra đơn hàng giúp chị nhé 😊 <b>ngay</b>"
    await bridge.post(act.reply(bridge.service_url, owner, chat.thread, reply))
    await bridge.post(act.room_message(bridge.service_url, owner, "Xong rồi ạ", thread=chat.thread))
    texts = await bridge.connector.wait_for_texts(chat.conversation, before + 2)
    assert texts[before:] == [reply, "Xong rồi ạ"]
    # Web Chat holds a message whose replyToId it never saw for seconds: relays carry none.
    assert not any(a.get("replyToId") for a in bridge.connector.activities(chat.conversation))
    # A colleague who is not in the chat is not relayed: the reply is kept as an internal
    # note, and they are told so once, without an @mention (no second notification).
    for words in ("I can help", "Thu, is this the order from Monday?"):
        await bridge.post(act.reply(bridge.service_url, other, chat.thread, words))
        await bridge.settled()
    assert "I can help" not in bridge.connector.texts(chat.conversation)
    hints = [a for a in bridge.connector.texts(chat.thread) if "internal note" in a]
    assert len(hints) == 1 and "<at>" not in hints[0] and "Thu" in hints[0]
    [hint] = [a for a in bridge.connector.activities(chat.thread) if a.get("text") == hints[0]]
    assert "entities" not in hint
    url = bridge.app[keys.LINKS].url(chat.chat_id).removeprefix("http://bridge.test")
    page = await (await bridge.get(url)).text()
    assert "I can help" in page and "Thu, is this the order from Monday?" in page
    # The customer's reply reaches the thread.
    await bridge.post(act.webchat_message(bridge.service_url, "cust-4", "Cảm ơn em ❤️"))
    await bridge.connector.wait_for(
        lambda: any(t.endswith("Cảm ơn em ❤️") for t in bridge.connector.texts(chat.thread))
    )


async def test_reply_before_accept_is_not_relayed(bridge: Bridge) -> None:
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-5", "Hi")
    await bridge.post(
        act.room_message(bridge.service_url, act.agent(7), "hello?", thread=chat.thread)
    )
    await bridge.settled()
    assert "hello?" not in bridge.connector.texts(chat.conversation)
    assert "Accept" in bridge.connector.activities(chat.thread)[-1]["text"]


async def test_close_by_command_gives_summary_transcript_and_goodbye(bridge: Bridge) -> None:
    owner = act.agent(8, "Quang")
    chat = await accepted_chat(bridge, "cust-6", "Tôi muốn đổi hàng", owner, name="Hà")
    await bridge.post(act.reply(bridge.service_url, owner, chat.thread, "Chị gửi mã đơn nhé"))
    await bridge.post(
        act.webchat_message(bridge.service_url, "cust-6", "<script>alert(1)</script>", name="Hà")
    )
    await bridge.post(act.reply(bridge.service_url, owner, chat.thread, "/close"))
    await bridge.settled()
    summary = card_of(bridge.connector.updates(chat.thread, chat.card_id)[-1])
    text = card_text(summary)
    assert text.startswith("Closed · ") and "Quang" in text
    assert "Tôi muốn đổi hàng" in text  # the question stays on the summary
    assert re.search(r"\b3\nMessages", text)
    assert [a["type"] for a in summary["actions"]] == ["Action.OpenUrl"]
    link_text = bridge.connector.texts(chat.thread)[-1]
    url = re.search(r"http://bridge\.test(/transcripts/\S+)", link_text)
    assert url, link_text
    goodbye = bridge.connector.texts(chat.conversation)[-1]
    assert "kết thúc" in goodbye
    # The transcript: every message, escaped.
    page = await bridge.get(url.group(1))
    assert page.status == 200
    html = await page.text()
    assert "Tôi muốn đổi hàng" in html and "Chị gửi mã đơn nhé" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Quang" in html and "Hà" in html


async def test_close_by_card_button_and_only_owner_or_supervisor(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    chat = await open_chat(bridge, "cust-7", "Hi", locale="en-US")
    owner, stranger = act.agent(9, "Nga"), act.agent(10, "Phong")
    await accept(bridge, chat, owner)
    close = {"action": "close", "chat": chat.chat_id}
    refused = await bridge.post(
        act.invoke_action(bridge.service_url, stranger, chat.thread, "close", close)
    )
    answer = await refused.json()
    assert "only the chat's owner or a supervisor" in card_text(answer["value"])
    assert verbs(answer["value"]) == []  # a stranger's view: no buttons
    # The supervisor may close someone else's chat.
    done = await bridge.post(
        act.invoke_action(bridge.service_url, room.supervisor, chat.thread, "close", close)
    )
    answer = await done.json()
    assert card_text(answer["value"]).startswith("Closed · ")
    await bridge.settled()
    assert "This chat has ended" in bridge.connector.texts(chat.conversation)[-1]


async def test_customer_writing_after_close_opens_a_new_chat(bridge: Bridge) -> None:
    owner = act.agent(11)
    first = await accepted_chat(bridge, "cust-8", "First problem", owner, locale="en-US")
    await bridge.post(act.room_message(bridge.service_url, owner, "close", thread=first.thread))
    await bridge.settled()
    second = await open_chat(bridge, "cust-8", "Second problem", locale="en-US")
    assert second.chat_id != first.chat_id and second.thread != first.thread
    assert "Second problem" in card_text(card_of(bridge.connector.activities(second.thread)[0]))


async def test_transcript_token_is_checked(bridge: Bridge) -> None:
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-9", "Hi")
    links = bridge.app[__import__("bot.keys", fromlist=["LINKS"]).LINKS]
    good = urlsplit(links.url(chat.chat_id))
    assert (await bridge.get(f"{good.path}?{good.query}")).status == 200
    assert (await bridge.get(f"/transcripts/{chat.chat_id}")).status == 403
    assert (await bridge.get(f"/transcripts/{chat.chat_id}?token=123.abc")).status == 403
    other = links.token(chat.chat_id[::-1])
    assert (await bridge.get(f"/transcripts/{chat.chat_id}?token={other}")).status == 403
    expired = links.token(chat.chat_id, now=0)
    assert (await bridge.get(f"/transcripts/{chat.chat_id}?token={expired}")).status == 403


async def test_healthz(bridge: Bridge) -> None:
    response = await bridge.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


async def test_customers_from_every_channel_reach_the_room(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    await go_online(bridge, room.supervisor)
    for n, channel in enumerate(["webchat", "directline", "emulator", "skype", "msteams"]):
        extra = {}
        if channel == "msteams":
            extra["conversation"] = {"id": "a:personal-chat-1", "conversationType": "personal"}
        activity = act.webchat_message(
            bridge.service_url,
            f"{channel}-user",
            f"hello from {channel}",
            channel=channel,
            locale="en-US",
            **extra,
        )
        assert (await bridge.post(activity)).status == 201
        await bridge.connector.wait_for(lambda n=n: len(bridge.connector.created()) == n + 1)
        card = card_of(bridge.connector.created()[n].body["activity"])
        assert f"hello from {channel}" in card_text(card) and channel in card_text(card)
    await bridge.settled()
    # Teams never says that a customer opened the chat: the first reply greets.
    assert bridge.connector.texts("a:personal-chat-1")[0].startswith("Hello! Thank you")


async def test_the_word_close_without_the_bot_is_a_message(bridge: Bridge) -> None:
    owner = act.agent(12, "Vy")
    chat = await accepted_chat(bridge, "cust-word", "Is the shop open?", owner, locale="en-US")
    await bridge.post(act.reply(bridge.service_url, owner, chat.thread, "close"))
    await bridge.settled()
    assert bridge.connector.texts(chat.conversation)[-1] == "close"
    assert "ended" not in " ".join(bridge.connector.texts(chat.conversation))
