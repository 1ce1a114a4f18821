"""Working as a team, end to end: Invite, Transfer, Join, Leave, supervisors and the lists.

For each move: who is @mentioned, what the card shows after it, what the customer
is told, whose replies are relayed before and after, and every refusal.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests import activities as act
from tests.conftest import (
    Bridge,
    ManualClock,
    OpenChat,
    accept,
    accepted_chat,
    open_chat,
    row_id,
    setup_room,
)
from tests.test_bridge import card_of, card_text, verbs

MAI = act.agent(1, "Supervisor Mai")
MINH = act.agent(2, "Minh")
HUNG = act.agent(3, "Hùng")
LAN = act.agent(4, "Lan Anh")
MESSAGE = "application/vnd.microsoft.activity.message"


async def online(bridge: Bridge, *agents: act.Agent) -> None:
    for agent in agents:
        response = await bridge.post(act.room_message(bridge.service_url, agent, "online"))
        assert response.status == 201
    await bridge.settled()


async def say(bridge: Bridge, chat: OpenChat, who: act.Agent, text: str, *mentioned: act.Agent):
    response = await bridge.post(
        act.reply(bridge.service_url, who, chat.thread, text, mentions=mentioned)
    )
    assert response.status == 201
    await bridge.settled()


async def answer_to(
    bridge: Bridge, chat: OpenChat, who: act.Agent, command: str, *mentioned: act.Agent
) -> str:
    """The bot's answer in the thread (its last text) to ``who``'s command there."""
    await say(bridge, chat, who, command, *mentioned)
    return thread(bridge, chat)[-1]["text"]


async def press(
    bridge: Bridge, chat: OpenChat, who: act.Agent, verb: str, **data: Any
) -> dict[str, Any]:
    """``who`` presses a button (Action.Execute) of the chat; returns the invoke answer."""
    payload = {"action": verb, "chat": chat.chat_id, **data}
    response = await bridge.post(
        act.invoke_action(bridge.service_url, who, chat.thread, verb, payload)
    )
    assert response.status == 200, await response.text()
    answer = await response.json()
    await bridge.settled()
    return answer


def thread(bridge: Bridge, chat: OpenChat) -> list[dict[str, Any]]:
    return bridge.connector.activities(chat.thread)


def mentioned_in(activity: dict[str, Any]) -> list[str]:
    return [e["mentioned"]["id"] for e in activity.get("entities", []) if e["type"] == "mention"]


def latest_card(bridge: Bridge, chat: OpenChat) -> dict[str, Any]:
    return card_of(bridge.connector.updates(chat.thread, chat.card_id)[-1])


def offer_of(bridge: Bridge, chat: OpenChat) -> dict[str, Any]:
    """What the last invitation or transfer in the thread carries (its offer's id): the
    card everyone sees has no buttons, only the recipient's own view (refresh) has."""
    offers = [a for a in thread(bridge, chat) if a.get("attachments")]
    return card_of(offers[-1])["refresh"]["action"]["data"]


async def offer_view(bridge: Bridge, chat: OpenChat, who: act.Agent) -> dict[str, Any]:
    """``who``'s own view of the last invitation or transfer (a refresh invoke)."""
    offers = [a for a in thread(bridge, chat) if a.get("attachments")]
    card = card_of(offers[-1])
    response = await bridge.post(act.refresh_invoke(bridge.service_url, who, chat.thread, card))
    assert response.status == 200, await response.text()
    return (await response.json())["value"]


def participants(card: dict[str, Any]) -> str:
    """The card's "Participants" fact ("" when nobody takes part)."""
    facts = [f for e in card["body"] if e["type"] == "FactSet" for f in e["facts"]]
    return next((f["value"] for f in facts if f["title"] == "Participants"), "")


def customer_texts(bridge: Bridge, chat: OpenChat) -> list[str]:
    return bridge.connector.texts(chat.conversation)


def helper_told(bridge: Bridge, chat: OpenChat) -> str | None:
    """Whom the customer's last line says helps them now (the web chat's header)."""
    last = bridge.connector.activities(chat.conversation)[-1]
    return last.get("channelData", {}).get("supportBridge", {}).get("helper")


async def active_chat(bridge: Bridge, owner: act.Agent = MINH) -> OpenChat:
    return await accepted_chat(bridge, "cust-1", "Xin chào", owner, supervisor=MAI, name="Lan")


async def test_invite_by_command_join_relay_and_leave(bridge: Bridge) -> None:
    chat = await active_chat(bridge)
    await online(bridge, HUNG, LAN)
    await say(bridge, chat, MINH, "/invite @Hùng", HUNG)
    invitation = thread(bridge, chat)[-1]
    assert mentioned_in(invitation) == [HUNG.id]
    # Only Hùng's own view has the buttons; everyone else reads whom it is for.
    assert "actions" not in card_of(invitation)
    assert card_of(invitation)["refresh"]["userIds"] == [HUNG.id]
    mine = await offer_view(bridge, chat, HUNG)
    assert [a["title"] for a in mine["actions"]] == ["Join", "Decline"]
    assert "actions" not in await offer_view(bridge, chat, LAN)
    data = offer_of(bridge, chat)

    # Someone else pressing the invitee's Join is refused, and nothing changes.
    refused = await press(bridge, chat, LAN, "join", offer=data["offer"])
    assert refused["type"] == MESSAGE and "for the colleague who was invited" in refused["value"]
    await say(bridge, chat, HUNG, "Before joining")
    assert "Before joining" not in customer_texts(bridge, chat)

    joined = await press(bridge, chat, HUNG, "join", offer=data["offer"])
    assert "You joined" in card_text(joined["value"])
    assert "actions" not in await offer_view(bridge, chat, HUNG)  # answered: no buttons
    card = latest_card(bridge, chat)
    assert participants(card) == "Minh (owner), Hùng (invited)"
    joined = "Hùng cũng đã tham gia cuộc trò chuyện để hỗ trợ Quý khách."
    assert customer_texts(bridge, chat)[-1] == joined
    await say(bridge, chat, HUNG, "Hùng here, checking your order")
    assert customer_texts(bridge, chat)[-1] == "Hùng here, checking your order"

    # A second press of the same Join is refused: the invitation is used up.
    again = await press(bridge, chat, HUNG, "join", offer=data["offer"])
    assert again["type"] == MESSAGE and "no longer open" in again["value"]

    await say(bridge, chat, HUNG, "/leave")
    assert participants(latest_card(bridge, chat)) == "Minh (owner)"
    assert participants(latest_card(bridge, chat)) == "Minh (owner)"
    assert customer_texts(bridge, chat)[-1] == "Hùng đã rời cuộc trò chuyện."
    # The customer's header, which may have named Hùng (the last to write), names the owner.
    assert helper_told(bridge, chat) == "Minh"
    await say(bridge, chat, HUNG, "After leaving")
    assert "After leaving" not in customer_texts(bridge, chat)


async def test_invite_from_the_card_offers_only_online_team_members(bridge: Bridge) -> None:
    chat = await active_chat(bridge)
    bridge.connector.set_members(act.TEAM, [MAI.account, MINH.account, HUNG.account, LAN.account])
    await online(bridge, HUNG)  # Lan Anh stays offline
    answer = await press(bridge, chat, MINH, "invite")
    assert answer["type"] == MESSAGE and "Pick the colleague" in answer["value"]
    picker = card_of(thread(bridge, chat)[-1])
    [choices] = [e["choices"] for e in picker["body"] if e["type"] == "Input.ChoiceSet"]
    assert choices == [{"title": "Hùng", "value": HUNG.id}]

    sent = await press(bridge, chat, MINH, "invite", agent=HUNG.id)
    assert "Invitation sent to Hùng" in card_text(sent["value"])
    assert mentioned_in(thread(bridge, chat)[-1]) == [HUNG.id]
    # Declining tells the inviter.
    declined = await press(bridge, chat, HUNG, "decline", offer=offer_of(bridge, chat)["offer"])
    assert "declined" in card_text(declined["value"])
    notice = thread(bridge, chat)[-1]
    assert "Hùng declined your invitation" in notice["text"] and mentioned_in(notice) == [MINH.id]


@pytest.mark.parametrize(
    ("verb", "sender", "named", "refusal"),
    [
        ("invite", LAN, HUNG, "only the chat's participants"),
        ("transfer", HUNG, MINH, "only the chat's owner can transfer"),
    ],
)
async def test_invite_and_transfer_refusals(
    bridge: Bridge, verb: str, sender: act.Agent, named: act.Agent, refusal: str
) -> None:
    """Invite and transfer refuse alike: an offline colleague, a sender who may not offer
    the chat, a name without an @mention, a forged picker naming someone unknown."""
    chat = await active_chat(bridge)
    await online(bridge, HUNG)  # Lan Anh stays offline
    assert "not online" in await answer_to(bridge, chat, MINH, f"/{verb} @Lan Anh", LAN)
    assert refusal in await answer_to(bridge, chat, sender, f"/{verb} @{named.name}", named)
    assert "@mention" in await answer_to(bridge, chat, MINH, f"/{verb} Hùng")
    forged = await press(bridge, chat, MINH, verb, agent="29:nobody")
    assert forged["type"] == MESSAGE and "not online" in forged["value"]


async def test_transfer_accepted_moves_ownership(bridge: Bridge) -> None:
    chat = await active_chat(bridge)
    await online(bridge, HUNG)
    await say(bridge, chat, MINH, "/transfer @Hùng", HUNG)
    offer = thread(bridge, chat)[-1]
    assert mentioned_in(offer) == [HUNG.id]
    mine = await offer_view(bridge, chat, HUNG)
    assert [a["title"] for a in mine["actions"]] == ["Accept transfer", "Decline"]

    taken = await press(bridge, chat, HUNG, "take", offer=offer_of(bridge, chat)["offer"])
    assert "The chat is yours now" in card_text(taken["value"])
    card = latest_card(bridge, chat)
    assert card_text(card).startswith("Hùng is helping") and participants(card) == "Hùng (owner)"
    notice = thread(bridge, chat)[-1]
    assert "Hùng took over" in notice["text"] and mentioned_in(notice) == [MINH.id]
    taken = "Hùng sẽ tiếp tục hỗ trợ Quý khách trong cuộc trò chuyện này."
    assert customer_texts(bridge, chat)[-1] == taken
    assert helper_told(bridge, chat) == "Hùng"

    await say(bridge, chat, MINH, "Minh after the transfer")
    assert "Minh after the transfer" not in customer_texts(bridge, chat)
    await say(bridge, chat, HUNG, "Hùng after the transfer")
    assert customer_texts(bridge, chat)[-1] == "Hùng after the transfer"
    # The new owner may close; the previous one may not any more.
    assert "only the chat's owner or a supervisor" in await answer_to(bridge, chat, MINH, "/close")
    await say(bridge, chat, HUNG, "/close")
    assert "closed" in card_text(latest_card(bridge, chat)).lower()
    # The transcript records who did what.
    [link] = [a["text"] for a in thread(bridge, chat) if "Transcript: " in a.get("text", "")]
    url = urlsplit(link.split("Transcript: ")[1])
    page = await bridge.get(f"{url.path}?{url.query}")
    html = await page.text()
    assert "Minh accepted the chat" in html and "Hùng took over the chat (transfer)" in html


async def test_one_transfer_at_a_time_and_replayed_accept_after_decline(bridge: Bridge) -> None:
    chat = await active_chat(bridge)
    await online(bridge, HUNG)
    await say(bridge, chat, MINH, "/transfer @Hùng", HUNG)
    data = offer_of(bridge, chat)
    assert "already waiting for an answer" in await answer_to(
        bridge, chat, MINH, "/transfer @Hùng", HUNG
    )
    await press(bridge, chat, HUNG, "decline", offer=data["offer"])
    assert "declined the transfer" in thread(bridge, chat)[-1]["text"]
    replay = await press(bridge, chat, HUNG, "take", offer=data["offer"])
    assert replay["type"] == MESSAGE and "no longer open" in replay["value"]
    assert participants(latest_card(bridge, chat)) == "Minh (owner)"
    await say(bridge, chat, MINH, "Still mine")
    assert customer_texts(bridge, chat)[-1] == "Still mine"


async def test_unanswered_transfer_is_withdrawn_once(start_bridge: Any, clock: ManualClock) -> None:
    bridge = await start_bridge(clock=clock, offer_timeout=60, timer_interval=0.05)
    chat = await active_chat(bridge)
    await online(bridge, HUNG)
    await say(bridge, chat, MINH, "/transfer @Hùng", HUNG)
    data = offer_of(bridge, chat)
    clock.advance(61)
    await bridge.connector.wait_for(
        lambda: any("did not answer" in a.get("text", "") for a in thread(bridge, chat))
    )
    await bridge.settled()
    withdrawn = [a for a in thread(bridge, chat) if "did not answer" in a.get("text", "")]
    assert len(withdrawn) == 1 and mentioned_in(withdrawn[0]) == [MINH.id]
    late = await press(bridge, chat, HUNG, "take", offer=data["offer"])
    assert late["type"] == MESSAGE and "no longer open" in late["value"]
    withdrawn = [a for a in thread(bridge, chat) if "did not answer" in a.get("text", "")]
    assert len(withdrawn) == 1


async def test_join_by_supervisor_only(bridge: Bridge) -> None:
    await setup_room(bridge, MAI)
    chat = await open_chat(bridge, "cust-1", "Xin chào", name="Lan")
    refused = await press(bridge, chat, HUNG, "join")
    assert refused["type"] == MESSAGE and "only the department's supervisors" in refused["value"]
    # The supervisor joins a waiting chat to watch it (the customer is not told), then
    # takes it over with Accept.
    told = customer_texts(bridge, chat)
    joined = await press(bridge, chat, MAI, "join")
    assert participants(joined["value"]) == "Supervisor Mai (supervisor)"
    assert verbs(joined["value"]) == ["accept", "leave"]
    assert customer_texts(bridge, chat) == told
    await accept(bridge, chat, MAI)
    assert participants(latest_card(bridge, chat)) == "Supervisor Mai (owner)"


async def test_team_owner_may_join_like_a_supervisor(bridge: Bridge) -> None:
    chat = await active_chat(bridge)
    owner = {**LAN.account, "userRole": "owner"}
    bridge.connector.set_members(act.TEAM, [MAI.account, MINH.account, HUNG.account, owner])
    refused = await press(bridge, chat, HUNG, "join")
    assert refused["type"] == MESSAGE and "only the department's supervisors" in refused["value"]
    joined = await press(bridge, chat, LAN, "join")
    assert participants(joined["value"]) == "Minh (owner), Lan Anh (supervisor)"


async def test_supervisor_joins_active_chat_by_command_and_may_leave(bridge: Bridge) -> None:
    chat = await active_chat(bridge)
    assert "only the department's supervisors" in await answer_to(bridge, chat, HUNG, "/join")
    await say(bridge, chat, MAI, "/join")
    assert participants(latest_card(bridge, chat)) == "Minh (owner), Supervisor Mai (supervisor)"
    await say(bridge, chat, MAI, "Supervisor here")
    assert customer_texts(bridge, chat)[-1] == "Supervisor here"
    assert "transfer it or close it" in await answer_to(bridge, chat, MINH, "/leave")
    left = await press(bridge, chat, MAI, "leave")
    assert participants(left["value"]) == "Minh (owner)"


async def test_supervisors_are_managed_by_supervisors(bridge: Bridge) -> None:
    await setup_room(bridge, MAI)
    root = act.ROOM

    async def command(who: act.Agent, text: str, *mentioned: act.Agent) -> str:
        before = len(bridge.connector.texts(root))
        await bridge.post(act.room_message(bridge.service_url, who, text, mentions=mentioned))
        texts = await bridge.connector.wait_for_texts(root, before + 1)
        return texts[-1]

    assert "only the department's supervisors" in await command(HUNG, "supervisor add @Hùng", HUNG)
    assert "Hùng, Supervisor Mai" in await command(MAI, "supervisor add @Hùng", HUNG)
    assert "last supervisor" not in await command(HUNG, "supervisor remove @Hùng", HUNG)
    assert "last supervisor" in await command(MAI, "supervisor remove @Supervisor Mai", MAI)
    assert "supervisor add @name" in await command(MAI, "supervisor promote")


async def test_chats_and_history_lists(bridge: Bridge) -> None:
    await setup_room(bridge, MAI)
    first = await open_chat(bridge, "cust-1", "Xin chào", name="Lan")
    second = await open_chat(bridge, "cust-2", "Hello", name="Peter", locale="en-US")
    await accept(bridge, second, MINH)

    async def listing(text: str) -> dict[str, Any]:
        before = len(bridge.connector.activities(act.ROOM))
        await bridge.post(act.room_message(bridge.service_url, MINH, text))
        await bridge.connector.wait_for(lambda: len(bridge.connector.activities(act.ROOM)) > before)
        return card_of(bridge.connector.activities(act.ROOM)[-1])

    open_chats = card_text(await listing("chats"))
    assert "Open chats of Support" in open_chats
    first_id, second_id = await row_id(bridge, first.chat_id), await row_id(bridge, second.chat_id)
    assert f"#{first_id} [Lan](https://teams.microsoft.com/l/message/" in open_chats
    assert "waiting for" in open_chats and f"#{second_id} [Peter]" in open_chats
    assert "with Minh" in open_chats

    await say(bridge, second, MINH, "/close")
    history = card_text(await listing("history"))
    assert f"#{second_id} Peter, with Minh" in history
    assert "http://bridge.test/transcripts/" in history and "Lan" not in history
    assert re.search(r"closed \d+ seconds? ago", history), history
    assert "Nothing here" in card_text(await listing("history Lan"))
    assert f"#{second_id} Peter" in card_text(await listing("history peter"))
    assert f"#{second_id}" not in card_text(await listing("chats"))


async def test_transfer_to_an_invited_colleague_from_the_card(bridge: Bridge) -> None:
    chat = await active_chat(bridge)
    await online(bridge, HUNG)
    await say(bridge, chat, MINH, "/invite @Hùng", HUNG)
    await press(bridge, chat, HUNG, "join", offer=offer_of(bridge, chat)["offer"])
    answer = await press(bridge, chat, MINH, "transfer")
    assert answer["type"] == MESSAGE, answer
    picker = card_of(thread(bridge, chat)[-1])
    [choices] = [e["choices"] for e in picker["body"] if e["type"] == "Input.ChoiceSet"]
    assert choices == [{"title": "Hùng", "value": HUNG.id}]
    sent = await press(bridge, chat, MINH, "transfer", agent=HUNG.id)
    assert "Transfer offered to Hùng" in card_text(sent["value"])
    await press(bridge, chat, HUNG, "take", offer=offer_of(bridge, chat)["offer"])
    assert participants(latest_card(bridge, chat)) == "Hùng (owner)"
