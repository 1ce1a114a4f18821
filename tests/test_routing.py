"""Intake and routing end to end: departments, availability, capacity, nobody online,
unanswered chats announced again (once across replicas and restarts), returning customers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select

from bot import keys
from cards.departments import availability_card, department_choice
from dialogs.i18n import Texts
from store.models import Chat
from tests import activities as act
from tests.conftest import (
    Bridge,
    BridgeFactory,
    ManualClock,
    OpenChat,
    accept,
    go_online,
    open_chat,
    open_chat_body,
    setup_room,
)
from tests.test_bridge import card_of, card_text

SALES = "19:room-sales@thread.tacv2"


async def setup_sales(bridge: Bridge, supervisor: act.Agent) -> None:
    """The Sales room, with ``supervisor`` as its only supervisor: a department is added
    by an existing supervisor (Mai, of Support), who hands it over."""
    mai = act.agent(1, "Supervisor Mai")
    url = bridge.service_url
    for who, text, mentions in (
        (mai, "setup Sales", ()),
        (mai, f"supervisor add @{supervisor.name}", (supervisor,)),
        (supervisor, f"supervisor remove @{mai.name}", (mai,)),
    ):
        before = len(bridge.connector.texts(SALES))
        message = act.room_message(url, who, text, room=SALES, mentions=mentions)
        assert (await bridge.post(message)).status == 201
        await bridge.connector.wait_for(lambda b=before: len(bridge.connector.texts(SALES)) > b)
    await bridge.settled()


async def two_departments(bridge: Bridge) -> tuple[act.Agent, act.Agent]:
    """Support (the default room) and Sales, each with its own supervisor."""
    support = (await setup_room(bridge)).supervisor
    sales = act.agent(9, "Supervisor Hung")
    await setup_sales(bridge, sales)
    return support, sales


def mentioned(card: dict[str, Any]) -> list[str]:
    return [e["mentioned"]["id"] for e in card.get("msteams", {}).get("entities", [])]


async def created_after(bridge: Bridge, before: int) -> OpenChat:
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) > before)
    await bridge.settled()
    found = open_chat_body(bridge.connector.created()[before])
    return OpenChat("", "", found["thread"], found["card_id"], found["chat"])


async def say(bridge: Bridge, user: str, text: str = "", **kwargs: Any) -> None:
    activity = act.webchat_message(bridge.service_url, user, text, **kwargs)
    if not text:
        activity.pop("text")
    assert (await bridge.post(activity)).status == 201
    await bridge.settled()


async def in_room(bridge: Bridge, who: act.Agent, text: str, **kwargs: Any) -> None:
    assert (await bridge.post(act.room_message(bridge.service_url, who, text, **kwargs))).status
    await bridge.settled()


async def test_department_chosen_by_card_goes_to_that_room(bridge: Bridge) -> None:
    _, hung = await two_departments(bridge)
    await go_online(bridge, hung, SALES)
    # A channel without quick replies (Skype): the question is one card, asked once.
    await say(bridge, "c-card", "Tôi muốn mua hàng", locale="vi-VN", channel="skype")
    # Nothing is posted yet: the customer is asked.
    assert bridge.connector.created() == []
    [question] = bridge.connector.activities("conv-c-card")
    assert "text" not in question and "suggestedActions" not in question
    assert "bộ phận" in card_text(card_of(question))
    buttons = card_of(question)["actions"]
    assert [b["type"] for b in buttons] == ["Action.Submit", "Action.Submit"]
    assert [b["title"] for b in buttons] == ["Support", "Sales"]
    # A message before the choice is kept; the press comes back as a message with a value.
    await say(bridge, "c-card", "Giá bao nhiêu?", locale="vi-VN", channel="skype")
    await say(bridge, "c-card", value=buttons[1]["data"], locale="vi-VN", channel="skype")
    chat = await created_after(bridge, 0)
    created = bridge.connector.created()[0]
    assert created.body["channelData"]["channel"]["id"] == SALES
    text = card_text(card_of(created.body["activity"]))
    assert "Tôi muốn mua hàng" in text and "Giá bao nhiêu?" in text and "Sales" in text
    assert chat.thread.startswith(SALES)
    assert "Cảm ơn" in bridge.connector.texts("conv-c-card")[-1]


async def test_website_customers_get_quick_replies_only(bridge: Bridge) -> None:
    _, hung = await two_departments(bridge)
    await go_online(bridge, hung, SALES)
    await say(bridge, "c-quick", "Tôi muốn mua hàng", locale="vi-VN")
    [question] = bridge.connector.activities("conv-c-quick")
    # One question: a text with the departments as quick replies, no card repeating it.
    assert "bộ phận" in question["text"] and "attachments" not in question
    replies = question["suggestedActions"]["actions"]
    assert [(a["type"], a["value"]) for a in replies] == [
        ("imBack", "Support"),
        ("imBack", "Sales"),
    ]
    await say(bridge, "c-quick", "Sales", locale="vi-VN")
    chat = await created_after(bridge, 0)
    assert chat.thread.startswith(SALES)
    # The department's name the customer tapped is not shown as their question.
    card = card_of(bridge.connector.created()[0].body["activity"])
    assert card["body"][1]["text"] == "Tôi muốn mua hàng"
    assert card_text(card).count("Sales") == 1


async def test_department_chosen_by_word_and_changed_before_accept(bridge: Bridge) -> None:
    mai, hung = await two_departments(bridge)
    await go_online(bridge, mai)
    await go_online(bridge, hung, SALES)
    await say(bridge, "c-word", "Hello", locale="en-US")
    await say(bridge, "c-word", "Sales", locale="en-US")
    sales_chat = await created_after(bridge, 0)
    assert sales_chat.thread.startswith(SALES)
    # The customer changes their mind before anyone accepts: the card moves.
    await say(bridge, "c-word", "support", locale="en-US")
    support_chat = await created_after(bridge, 1)
    assert support_chat.thread.startswith(act.ROOM)
    assert support_chat.chat_id == sales_chat.chat_id
    old = card_of(bridge.connector.updates(sales_chat.thread, sales_chat.card_id)[-1])
    assert "Moved to Support" in card_text(old) and "actions" not in old
    # Later messages go to the new thread.
    await say(bridge, "c-word", "My order is late", locale="en-US")
    assert bridge.connector.texts(support_chat.thread)[-1].endswith("My order is late")


async def test_a_chat_without_a_department_cannot_be_accepted(bridge: Bridge) -> None:
    await two_departments(bridge)
    await say(bridge, "c-none", "Hi", locale="en-US")
    # Even knowing its reference, a chat with no department belongs to no room.
    async with bridge.app[keys.ENGINE].connect() as connection:
        ref = await connection.scalar(select(Chat.public_id))
    data = {"action": "accept", "chat": ref, "v": 1}
    thread = f"{act.ROOM};messageid=1"
    submit = act.room_message(bridge.service_url, act.agent(5), "", thread=thread, value=data)
    assert (await bridge.post(submit)).status == 201
    press = act.invoke_action(bridge.service_url, act.agent(5), thread, "accept", data)
    response = await bridge.post(press)
    assert response.status == 403
    assert "not available" in (await response.json())["value"]["message"]
    await bridge.settled()
    assert bridge.connector.created() == []
    assert len(bridge.connector.texts("conv-c-none")) == 1


async def test_supervisor_moves_a_waiting_chat(bridge: Bridge) -> None:
    mai, _ = await two_departments(bridge)
    await say(bridge, "c-move", "Hi", locale="en-US")
    await say(bridge, "c-move", "Support", locale="en-US")
    chat = await created_after(bridge, 0)
    # Someone who is not a supervisor may not.
    await in_room(bridge, act.agent(5, "Nam"), "move Sales", thread=chat.thread)
    assert "only a supervisor" in bridge.connector.texts(chat.thread)[-1]
    await in_room(bridge, mai, "move Sales", thread=chat.thread)
    moved = await created_after(bridge, 1)
    assert moved.thread.startswith(SALES)
    old = card_of(bridge.connector.updates(chat.thread, chat.card_id)[-1])
    assert "Moved to Sales" in card_text(old)


async def test_only_online_agents_are_mentioned(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    an, binh = act.agent(2, "An"), act.agent(3, "Binh")
    await go_online(bridge, an)
    await in_room(bridge, binh, "away")
    await go_online(bridge, room.supervisor)
    await in_room(bridge, room.supervisor, "offline")
    bridge.connector.set_members(act.TEAM, [act.agent(4, "Chi").account, act.BOT])
    await open_chat(bridge, "c-mention", "Hi", locale="en-US")
    card = card_of(bridge.connector.created()[0].body["activity"])
    assert mentioned(card) == [an.id]
    assert "<at>An</at>" in card_text(card) and "Binh" not in card_text(card)
    # who lists the room's agents with availability and open chats.
    await in_room(bridge, an, "who")
    listing = bridge.connector.texts(act.ROOM)[-1]
    assert "An: online, 0 open" in listing and "Binh: away" in listing
    assert "Supervisor Mai: offline" in listing
    # No capacity set: said in words, never as "∞".
    assert "no limit on open chats" in listing and "∞" not in listing
    # Chi has not acted in the room yet: the team roster lists her too (the bot is left out).
    assert "Chi: offline" in listing and "SupportBot" not in listing


async def test_availability_card(bridge: Bridge) -> None:
    await setup_room(bridge)
    an = act.agent(2, "An")
    await in_room(bridge, an, "status")
    [posted] = [a for a in bridge.connector.activities(act.ROOM) if a.get("attachments")]
    card = card_of(posted)
    assert [b["verb"] for b in card["actions"]] == ["availability"] * 3
    data = card["actions"][0]["data"]
    press = act.invoke_action(bridge.service_url, an, act.ROOM, "availability", data)
    response = await bridge.post(press)
    assert response.status == 200
    assert "You are now online" in card_text((await response.json())["value"])
    await in_room(bridge, an, "who")
    assert "An: online" in bridge.connector.texts(act.ROOM)[-1]


async def test_an_agent_at_capacity_cannot_accept(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    an = act.agent(2, "An")
    await in_room(bridge, an, "capacity 1")
    assert "only a supervisor" in bridge.connector.texts(act.ROOM)[-1]
    await in_room(bridge, room.supervisor, "capacity 1")
    assert "at most 1 open chat" in bridge.connector.texts(act.ROOM)[-1]
    first = await open_chat(bridge, "c-cap-1", "One", locale="en-US")
    second = await open_chat(bridge, "c-cap-2", "Two", locale="en-US")
    await accept(bridge, first, an)
    data = {"action": "accept", "chat": second.chat_id}
    press = act.invoke_action(bridge.service_url, an, second.thread, "accept", data)
    response = await bridge.post(press)
    answer = card_text((await response.json())["value"])
    assert "You already own 1 open chat" in answer
    # By Submit, they are told in the thread; the chat is still waiting for someone else.
    submit = act.room_message(bridge.service_url, an, "", thread=second.thread, value=data)
    await bridge.post(submit)
    await bridge.settled()
    assert "already own 1 open chat" in bridge.connector.texts(second.thread)[-1]
    await accept(bridge, second, act.agent(3, "Binh"))
    assert "Binh" in bridge.connector.texts(second.conversation)[-1]


async def test_nobody_online_then_someone_comes_online(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    chat = await open_chat(bridge, "c-nobody", "Anyone?", name="John", locale="en-US")
    [notice] = bridge.connector.texts(chat.conversation)
    # The default department is named in the customer's words, and a contact asked for once.
    assert notice.startswith("Thank you! Nobody from Customer Support is online right now")
    assert notice.count("phone number") == 1
    card = card_of(bridge.connector.created()[0].body["activity"])
    assert "Nobody of this department is online" in card_text(card) and mentioned(card) == []
    vi_chat = await open_chat(bridge, "c-nobody-vi", "Có ai không?", name="Lan")
    [vi_notice] = bridge.connector.texts(vi_chat.conversation)
    assert "bộ phận Chăm sóc khách hàng chưa có nhân viên trực tuyến" in vi_notice
    assert "Support" not in vi_notice
    # The supervisor comes online: each waiting chat mentions them in its thread.
    await go_online(bridge, room.supervisor)
    for waiting in (chat, vi_chat):
        [told] = [a for a in bridge.connector.activities(waiting.thread) if a.get("text")]
        assert told["entities"][0]["mentioned"]["id"] == room.supervisor.id
        assert "a customer is waiting" in told["text"]


async def announcements(bridge: Bridge, chat: OpenChat) -> list[str]:
    return [t for t in bridge.connector.texts(chat.thread) if "without an answer" in t]


async def test_unanswered_chat_is_announced_once_across_two_bridges(
    start_bridge: BridgeFactory, clock: ManualClock
) -> None:
    first = await start_bridge(clock=clock, timer_interval=0.05, unanswered_seconds=120)
    second = await start_bridge(clock=clock, timer_interval=0.05, unanswered_seconds=120)
    room = await setup_room(first)
    an = act.agent(2, "An")
    await go_online(first, an)
    chat = await open_chat(first, "c-late", "Hello?", locale="en-US")
    earlier = await open_chat(second, "c-late-vi", "Alo?", locale="vi-VN")
    clock.advance(60)
    await asyncio.sleep(0.3)
    assert await announcements(first, chat) == []
    clock.advance(61)
    await first.connector.wait_for(lambda: len(first.connector.texts(earlier.thread)) >= 1)
    await asyncio.sleep(0.4)
    await first.settled()
    [announced] = [a for a in first.connector.activities(chat.thread) if a.get("entities")]
    assert "without an answer" in announced["text"]
    assert {e["mentioned"]["id"] for e in announced["entities"]} == {an.id, room.supervisor.id}
    assert len(await announcements(first, earlier)) == 1
    told = first.connector.texts(chat.conversation)[-1]
    assert "number 1 in the queue for Customer Support" in told and "keeps its place" in told
    assert "vị trí số 2" in first.connector.texts(earlier.conversation)[-1]
    # It fired once: later ticks of either bridge find nothing due.
    clock.advance(600)
    await asyncio.sleep(0.3)
    assert len(await announcements(first, chat)) == 1


async def test_unanswered_timer_survives_a_restart(
    start_bridge: BridgeFactory, clock: ManualClock
) -> None:
    first = await start_bridge(clock=clock, timer_interval=0.05, unanswered_seconds=30)
    await setup_room(first)
    chat = await open_chat(first, "c-restart", "Hello?", locale="en-US")
    await first.http.close()
    await first.server.close()
    clock.advance(45)
    again = await start_bridge(clock=clock, timer_interval=0.05, unanswered_seconds=30)
    await again.connector.wait_for(lambda: len(again.connector.texts(chat.thread)) >= 1)
    await asyncio.sleep(0.3)
    await again.settled()
    assert len(await announcements(again, chat)) == 1


async def test_returning_customer_card(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    minh, an = act.agent(2, "Minh"), act.agent(3, "An")
    await go_online(bridge, room.supervisor)
    await go_online(bridge, minh)
    chat = await open_chat(bridge, "c-back", "First time", locale="en-US")
    card = card_of(bridge.connector.created()[0].body["activity"])
    assert "Returning" not in card_text(card)
    await accept(bridge, chat, minh)
    await in_room(bridge, minh, "close", thread=chat.thread)
    await go_online(bridge, an)
    again = await open_chat(bridge, "c-back", "Me again", locale="en-US")
    assert again.chat_id != chat.chat_id
    card = card_of(bridge.connector.created()[1].body["activity"])
    text = card_text(card)
    assert "1 earlier chat(s), last with Minh\nReturning" in text
    # Earlier transcripts are links in text: no button space on a phone.
    assert f"/transcripts/{chat.chat_id}?" in text
    assert not [b for b in card["body"] if b["type"] == "ActionSet"]
    # The last owner is online: mentioned first, before An, who comes first by name.
    assert mentioned(card) == [minh.id, an.id, room.supervisor.id]
    # The history stays on the card when it changes (here: accepted by the supervisor).
    await accept(bridge, again, room.supervisor)
    updated = card_of(bridge.connector.updates(again.thread, again.card_id)[-1])
    assert "1 earlier chat(s), last with Minh" in card_text(updated)
    assert f"/transcripts/{chat.chat_id}?" in card_text(updated)


def test_routing_cards_are_plain_adaptive_cards_1_5() -> None:
    choice = json.loads(json.dumps(department_choice((("sales", "Sales"),), "Which?", "Hint")))
    card = card_of(choice)
    assert card["version"] == "1.5"
    assert card["actions"] == [
        {
            "type": "Action.Submit",
            "title": "Sales",
            "data": {"action": "department", "department": "sales"},
        }
    ]
    status = json.loads(json.dumps(availability_card("away", Texts("vi"))))
    assert status["version"] == "1.5" and "Bạn đang tạm vắng." in card_text(status)
    assert [a["fallback"]["type"] for a in status["actions"]] == ["Action.Submit"] * 3
