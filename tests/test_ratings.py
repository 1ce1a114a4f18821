"""Customer satisfaction after close: the question, the answer on Web Chat (card) and in a
Teams personal chat (typed choice), one rating per chat, late answers, the switch."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot import keys
from store.console_models import Rating
from tests import activities as act
from tests.conftest import (
    Bridge,
    ManualClock,
    OpenChat,
    accept,
    open_chat,
    open_chat_body,
    row_id,
    setup_room,
)
from tests.test_bridge import card_of, card_text


async def close(bridge: Bridge, who: act.Agent, chat: OpenChat) -> dict[str, Any]:
    """``who`` closes the chat; returns the customer's last message (goodbye and question)."""
    message = act.room_message(
        bridge.service_url, who, "/close", thread=chat.thread, mention_bot=False
    )
    assert (await bridge.post(message)).status == 201
    await bridge.settled()
    return bridge.connector.activities(chat.conversation)[-1]


async def rating(bridge: Bridge, ref: str) -> tuple[int, str | None] | None:
    async with bridge.app[keys.ENGINE].connect() as connection:
        row = (
            await connection.execute(
                select(Rating.score, Rating.comment).where(
                    Rating.chat_id == await row_id(bridge, ref)
                )
            )
        ).one_or_none()
    return (row.score, row.comment) if row is not None else None


async def say(bridge: Bridge, customer: str, text: str = "", **extra: Any) -> None:
    activity = act.webchat_message(bridge.service_url, customer, text, **extra)
    assert (await bridge.post(activity)).status == 201
    await bridge.settled()


async def test_a_web_chat_customer_rates_once_with_a_comment(start_bridge: Any) -> None:
    clock = ManualClock()
    bridge = await start_bridge(clock)
    room = await setup_room(bridge)
    chat = await open_chat(bridge, "c-rate", "Xin chào", name="Lan")
    await accept(bridge, chat, room.supervisor)
    question = await close(bridge, room.supervisor, chat)
    # Asked once: the goodbye is the text, the question and its five choices (one row of
    # buttons, each a face and its number) the card; no quick replies repeat them.
    assert "kết thúc" in question["text"] and "thế nào" not in question["text"]
    assert "suggestedActions" not in question
    # The goodbye says nobody helps any more: the page's header lets go of the agent.
    assert question["channelData"]["supportBridge"] == {"kind": "notice", "helper": ""}
    card = card_of(question)
    [row] = [item for item in card["body"] if item["type"] == "ColumnSet" and
             len(item["columns"]) == 5]
    presses = [column["selectAction"] for column in row["columns"]]
    assert [a["data"]["score"] for a in presses] == [1, 2, 3, 4, 5]
    assert {a["data"]["chat"] for a in presses} == {chat.chat_id}
    assert presses[4]["title"] == "5 - Rất tốt"
    assert "thế nào" in card_text(card) and "1 (rất tệ)" in card["fallbackText"]
    # Pressing 4: thanked, and a comment offered after the score.
    await say(bridge, "c-rate", value=presses[3]["data"])
    thanks = bridge.connector.activities(chat.conversation)[-1]
    assert thanks["text"] == "Cảm ơn Quý khách đã đánh giá!"
    offer = card_of(thanks)
    assert any(item.get("id") == "comment" for item in offer["body"])
    [send] = offer["actions"]
    assert await rating(bridge, chat.chat_id) == (4, None)
    # The comment, sent once; a second one is refused politely.
    await say(bridge, "c-rate", value={**send["data"], "comment": "Trả lời nhanh"})
    assert bridge.connector.texts(chat.conversation)[-1] == "Cảm ơn góp ý của Quý khách!"
    assert await rating(bridge, chat.chat_id) == (4, "Trả lời nhanh")
    await say(bridge, "c-rate", value={**send["data"], "comment": "Thêm nữa"})
    assert "đã được ghi nhận" in bridge.connector.texts(chat.conversation)[-1]
    assert await rating(bridge, chat.chat_id) == (4, "Trả lời nhanh")
    # The summary card in the room shows it, and the thread says it.
    summary = card_text(card_of(bridge.connector.updates(chat.thread, chat.card_id)[-1]))
    assert "Satisfaction: ★★★★☆ 4/5" in summary and "Trả lời nhanh" in summary
    assert "4/5" in bridge.connector.texts(chat.thread)[-1]
    # A second press (another score) is thanked and changes nothing.
    await say(bridge, "c-rate", value={**presses[0]["data"]})
    assert "đã được đánh giá" in bridge.connector.texts(chat.conversation)[-1]
    assert await rating(bridge, chat.chat_id) == (4, "Trả lời nhanh")
    # The transcript shows the rating and the comment.
    url = bridge.app[keys.LINKS].url(chat.chat_id).removeprefix("http://bridge.test")
    page = await (await bridge.get(url)).text()
    assert "rated the chat 4/5" in page and "Trả lời nhanh" in page
    # The customer's next message is a new chat, not a rating.
    before = len(bridge.connector.created())
    await say(bridge, "c-rate", "Tôi có câu hỏi khác")
    assert len(bridge.connector.created()) == before + 1
    # A press a day after the close, on a chat nobody rated: thanked, not recorded.
    found = open_chat_body(bridge.connector.created()[-1])
    second = OpenChat("c-rate", chat.conversation, found["thread"], found["card_id"], found["chat"])
    await accept(bridge, second, room.supervisor)
    await close(bridge, room.supervisor, second)
    clock.advance(24 * 3600 + 1)
    await say(bridge, "c-rate", value={"action": "rate", "chat": second.chat_id, "score": 5})
    assert "không còn nhận đánh giá" in bridge.connector.texts(chat.conversation)[-1]
    assert await rating(bridge, second.chat_id) is None
    # A forged press naming another customer's chat: thanked, nothing recorded.
    await say(bridge, "c-other", value={"action": "rate", "chat": chat.chat_id, "score": 1})
    assert await rating(bridge, chat.chat_id) == (4, "Trả lời nhanh")


async def test_a_teams_personal_chat_customer_rates_and_the_card_is_locked(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    personal = {"id": "a:personal-rate", "conversationType": "personal", "tenantId": "other"}

    async def write(text: str) -> None:
        activity = act.webchat_message(
            bridge.service_url,
            "29:teams-customer",
            text,
            name="Peter",
            channel="msteams",
            locale="en-US",
            conversation=personal,
        )
        assert (await bridge.post(activity)).status == 201
        await bridge.settled()

    before = len(bridge.connector.created())
    await write("Hello, my order is late")
    created = bridge.connector.created()[before]
    data = created.body["activity"]["attachments"][0]["content"]["actions"][0]["data"]
    chat = OpenChat(
        customer="29:teams-customer",
        conversation=personal["id"],
        thread=created.conversation_id,
        card_id=created.activity_id or "",
        chat_id=data["chat"],
    )
    await accept(bridge, chat, room.supervisor)
    question = await close(bridge, room.supervisor, chat)
    assert "suggestedActions" not in question
    row = next(item for item in card_of(question)["body"] if item["type"] == "ColumnSet")
    assert [c["selectAction"]["title"] for c in row["columns"]] == [
        "1 - Very poor",
        "2 - Poor",
        "3 - Okay",
        "4 - Good",
        "5 - Excellent",
    ]
    # The press comes back from the sent card (Teams names it): the card is locked in place.
    press = act.webchat_message(
        bridge.service_url,
        "29:teams-customer",
        "",
        name="Peter",
        channel="msteams",
        locale="en-US",
        conversation=personal,
        value=row["columns"][4]["selectAction"]["data"],
        replyToId="question-1",
    )
    assert (await bridge.post(press)).status == 201
    await bridge.settled()
    [locked] = bridge.connector.updates(personal["id"], "question-1")
    assert "Rated" in card_text(card_of(locked)) and "selectAction" not in str(card_of(locked))
    assert bridge.connector.texts(personal["id"])[-1] == "Thank you for your rating!"
    assert await rating(bridge, chat.chat_id) == (5, None)
    # A typed choice still answers (a channel that draws no cards shows its fallback).
    await write("2 - Poor")
    assert "already been rated" in bridge.connector.texts(personal["id"])[-1]
    # Typed again: thanked, still one rating, no new chat.
    before = len(bridge.connector.created())
    await write("2")
    assert "already been rated" in bridge.connector.texts(personal["id"])[-1]
    assert await rating(bridge, chat.chat_id) == (5, None)
    assert len(bridge.connector.created()) == before


async def test_ratings_can_be_switched_off(start_bridge: Any) -> None:
    bridge = await start_bridge(csat_enabled=False)
    room = await setup_room(bridge)
    chat = await open_chat(bridge, "c-off", "Hi", locale="en-US")
    await accept(bridge, chat, room.supervisor)
    goodbye = await close(bridge, room.supervisor, chat)
    assert "suggestedActions" not in goodbye and not goodbye.get("attachments")
    # A typed "5" is then an ordinary message: it opens a new chat.
    before = len(bridge.connector.created())
    await say(bridge, "c-off", "5", locale="en-US")
    assert len(bridge.connector.created()) == before + 1
