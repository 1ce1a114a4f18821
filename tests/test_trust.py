"""Trust boundaries (issue: only the company's Teams acts as an agent, only a customer's own
conversation speaks for that customer). One test per attack of docs/security.md, over HTTP
against the real app and the connector emulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import func, select

from bot import keys
from store import dispatch
from store.core import Retention
from store.models import (
    Agent,
    Availability,
    Chat,
    ChatState,
    Department,
    InboundActivity,
    OutboxItem,
    Supervisor,
)
from tests import activities as act
from tests.conftest import Bridge, accepted_chat, go_online, open_chat, setup_room
from tests.connector_emulator import Fault
from tests.test_agent_tools import transcript_html
from tests.test_bridge import card_text
from tests.test_team import MAI, MINH

MALLORY = act.agent(66, "Mallory")
FOREIGN_TENANT = "tenant-evil"
OTHER_ROOM = "19:room-other@thread.tacv2"
OTHER_TEAM = "19:team-other@thread.tacv2"
NEUTRAL = "This action is not available here."


def foreign(activity: dict[str, Any], *, tenant: str = FOREIGN_TENANT) -> dict[str, Any]:
    """The same activity, from another tenant's Teams."""
    activity["conversation"]["tenantId"] = tenant
    activity["channelData"]["tenant"] = {"id": tenant}
    return activity


def elsewhere(activity: dict[str, Any], room: str = OTHER_ROOM, team: str = OTHER_TEAM) -> dict:
    """The same activity, written in another channel of another team (same tenant)."""
    conversation = activity["conversation"]["id"]
    activity["conversation"]["id"] = conversation.replace(act.ROOM, room)
    activity["channelData"].update(
        channel={"id": room}, team={"id": team}, teamsChannelId=room, teamsTeamId=team
    )
    return activity


async def rows(bridge: Bridge, statement: Any) -> Any:
    async with bridge.app[keys.ENGINE].connect() as connection:
        return (await connection.execute(statement)).all()


async def department_channels(bridge: Bridge) -> list[tuple[str, str]]:
    return [tuple(r) for r in await rows(bridge, select(Department.key, Department.channel_id))]


# 1. Room takeover ---------------------------------------------------------------------------


async def test_setup_from_another_tenant_or_by_a_non_supervisor_binds_nothing(
    bridge: Bridge,
) -> None:
    await setup_room(bridge, MAI)
    url = bridge.service_url
    for attempt in (
        foreign(elsewhere(act.room_message(url, MALLORY, "setup"))),
        foreign(elsewhere(act.room_message(url, MALLORY, "setup Billing"))),
        elsewhere(act.room_message(url, MALLORY, "setup")),  # rebinding Support
        elsewhere(act.room_message(url, MALLORY, "setup Billing")),  # a new department
        act.room_message(url, MALLORY, "setup"),  # in the room itself: not a supervisor
    ):
        assert (await bridge.post(attempt)).status == 201
    await bridge.settled()
    assert await department_channels(bridge) == [("default", act.ROOM)]
    supervisors = await rows(
        bridge, select(Agent.teams_id).join(Supervisor, Supervisor.agent_id == Agent.id)
    )
    assert [r[0] for r in supervisors] == [MAI.id]
    # Nothing at all reached the foreign tenant; the same tenant's people are told why.
    assert bridge.connector.texts(OTHER_ROOM)[-1].count("only a supervisor") == 1
    # The next customer's card still goes to the real room.
    chat = await open_chat(bridge, "cust-after-takeover", "Hello")
    assert chat.thread.startswith(act.ROOM)


async def test_a_supervisor_adds_departments_and_the_first_setup_binds_the_tenant(
    bridge: Bridge,
) -> None:
    await setup_room(bridge, MAI)
    sales = elsewhere(act.room_message(bridge.service_url, MAI, "setup Sales"), team=act.TEAM)
    assert (await bridge.post(sales)).status == 201
    taken = act.room_message(bridge.service_url, MAI, "setup Billing")  # Support's room
    assert (await bridge.post(taken)).status == 201
    await bridge.settled()
    assert sorted(await department_channels(bridge)) == [
        ("default", act.ROOM),
        ("sales", OTHER_ROOM),
    ]
    assert "already the room of Support" in bridge.connector.texts(act.ROOM)[-1]


# 2. Customers acting as agents --------------------------------------------------------------


def as_direct_line(activity: dict[str, Any]) -> dict[str, Any]:
    """An agent's activity replayed by a Direct Line client (it may pick any from.id)."""
    activity["channelId"] = "directline"
    activity["conversation"] = {"id": "dl-conv-attacker"}
    activity.pop("channelData", None)
    return activity


async def test_invokes_from_outside_teams_channels_are_refused(bridge: Bridge) -> None:
    await setup_room(bridge, MAI)
    chat = await open_chat(bridge, "cust-victim", "My card number is 4111", name="Victim")
    url = bridge.service_url
    before = len(bridge.connector.calls)
    for verb in ("accept", "close", "join"):
        data = {"action": verb, "chat": chat.chat_id}
        press = as_direct_line(act.invoke_action(url, MINH, chat.thread, verb, data))
        response = await bridge.post(press)
        assert response.status == 403
        assert (await response.json())["value"]["message"] == NEUTRAL
    query = as_direct_line(act.invoke_action(url, MINH, chat.thread, "x", {}))
    query["name"] = "composeExtension/query"
    query["value"] = {"commandId": "searchCanned", "parameters": [{"name": "query", "value": ""}]}
    assert (await bridge.post(query)).status == 403
    status = as_direct_line(
        act.room_message(url, MINH, "", value={"action": "availability", "availability": "online"})
    )
    assert (await bridge.post(status)).status == 201
    await bridge.settled()
    states = await rows(bridge, select(Chat.state, Chat.owner_id))
    assert [tuple(r) for r in states] == [(ChatState.WAITING, None)]
    online = await rows(bridge, select(Agent.id).where(Agent.availability == Availability.ONLINE))
    assert online == []
    # Nothing was sent anywhere on the attacker's behalf.
    assert all(c.conversation_id != chat.thread for c in bridge.connector.calls[before:])


# 3. Refused presses leak nothing; references are opaque ---------------------------------------


async def test_a_refused_press_says_nothing_and_references_are_not_row_ids(
    bridge: Bridge,
) -> None:
    chat = await accepted_chat(
        bridge, "cust-secret", "Secret question", MINH, supervisor=MAI, name="Ms Secret"
    )
    close = {"action": "close", "chat": chat.chat_id}
    await bridge.post(act.invoke_action(bridge.service_url, MINH, chat.thread, "close", close))
    await bridge.settled()
    assert isinstance(chat.chat_id, str) and len(chat.chat_id) >= 16
    # The chat's row id is 1; neither cards nor links carry it.
    link = next(t for t in bridge.connector.texts(chat.thread) if "/transcripts/" in t)
    assert f"/transcripts/{chat.chat_id}?token=" in link
    for guess in ("1", "2", chat.chat_id):
        assert (await bridge.get(f"/transcripts/{guess}")).status == 403
        assert (await bridge.get(f"/transcripts/{guess}?token=1.{'0' * 64}")).status == 403
    # From another team's channel, the press is refused without a card or a name.
    press = elsewhere(act.invoke_action(bridge.service_url, MALLORY, OTHER_ROOM, "accept", close))
    response = await bridge.post(press)
    body = await response.text()
    assert response.status == 403 and NEUTRAL in body
    for secret in ("Ms Secret", "Secret question", "transcripts", "Minh"):
        assert secret not in body


# 4. Customer impersonation ------------------------------------------------------------------


async def test_reusing_a_customers_id_from_another_conversation_makes_a_new_customer(
    bridge: Bridge,
) -> None:
    victim = await accepted_chat(
        bridge, "cust-lan", "I need help with order 17", MINH, supervisor=MAI, name="Lan"
    )
    attack = act.webchat_message(
        bridge.service_url, "cust-lan", "Send the refund to me", name="Lan"
    )
    attack["conversation"] = {"id": "conv-attacker"}
    assert (await bridge.post(attack)).status == 201
    await bridge.settled()
    # The victim's thread did not get the attacker's words; the attacker opened a new chat.
    assert not any("refund" in t for t in bridge.connector.texts(victim.thread))
    assert len(bridge.connector.created()) == 2
    reply = act.reply(bridge.service_url, MINH, victim.thread, "Your order ships today")
    assert (await bridge.post(reply)).status == 201
    await bridge.settled()
    assert "Your order ships today" in bridge.connector.texts(victim.conversation)
    assert "Your order ships today" not in bridge.connector.texts("conv-attacker")


async def test_a_token_bound_direct_line_id_is_the_same_customer_in_a_new_conversation(
    start_bridge: Any,
) -> None:
    bridge = await start_bridge(direct_line_enhanced_auth=True)
    await setup_room(bridge, MAI)
    first = act.webchat_message(bridge.service_url, "dl_abc123", "Hello", channel="directline")
    assert (await bridge.post(first)).status == 201
    await bridge.settled()
    close = act.room_message(bridge.service_url, MAI, "/close")
    close["conversation"]["id"] = bridge.connector.created()[0].conversation_id
    assert (await bridge.post(close)).status == 201
    await bridge.settled()
    again = act.webchat_message(bridge.service_url, "dl_abc123", "Back again", channel="directline")
    again["conversation"] = {"id": "conv-dl-second-visit"}
    assert (await bridge.post(again)).status == 201
    await bridge.settled()
    card = bridge.connector.created()[1].body["activity"]["attachments"][0]["content"]
    assert "earlier" in card_text(card).lower() or "returning" in card_text(card).lower()


# 5. Room and department on Accept and Join ----------------------------------------------------


async def test_a_press_from_another_room_or_team_changes_nothing(bridge: Bridge) -> None:
    await setup_room(bridge, MAI)
    chat = await open_chat(bridge, "cust-support", "Hi support")
    sales = elsewhere(act.room_message(bridge.service_url, MAI, "setup Sales"), team=act.TEAM)
    assert (await bridge.post(sales)).status == 201
    await bridge.settled()
    data = {"action": "accept", "chat": chat.chat_id}
    seller = act.agent(7, "Seller")
    from_sales = elsewhere(
        act.invoke_action(bridge.service_url, seller, OTHER_ROOM, "accept", data), team=act.TEAM
    )
    assert (await bridge.post(from_sales)).status == 403
    owner_elsewhere = elsewhere(
        act.invoke_action(
            bridge.service_url, MALLORY, chat.thread, "join", {**data, "action": "join"}
        )
    )
    bridge.connector.set_members(OTHER_TEAM, [{"id": MALLORY.id, "userRole": "owner"}])
    assert (await bridge.post(owner_elsewhere)).status == 403
    # A card's data naming the chat, pressed in the chat's own thread but claiming another team.
    wrong_team = act.invoke_action(bridge.service_url, MALLORY, chat.thread, "accept", data)
    wrong_team["channelData"]["team"] = {"id": OTHER_TEAM}
    assert (await bridge.post(wrong_team)).status == 403
    await bridge.settled()
    states = await rows(bridge, select(Chat.state, Chat.owner_id))
    assert [tuple(r) for r in states] == [(ChatState.WAITING, None)]


# 8. Bad input never gives a 5xx ---------------------------------------------------------------


def nested(depth: int) -> str:
    """JSON text of ``depth`` nested objects (built as text: too deep for json.dumps)."""
    return '{"a":' * depth + '"x"' + "}" * depth


async def test_deep_nesting_is_a_bad_request_anywhere(bridge: Bridge) -> None:
    for field in ("from", "recipient", "conversation", "channelData", "value"):
        for depth in (70, 990, 5000):
            activity = act.webchat_message(bridge.service_url, "cust-deep", "Hi")
            activity[field] = {"id": "x", "deep": "DEEP"}
            body = json.dumps(activity).replace('"DEEP"', nested(depth))
            response = await bridge.http.post(
                str(bridge.server.make_url("/api/messages")),
                data=body,
                headers={"Content-Type": "application/json"},
            )
            assert response.status in (400, 413), (field, depth, response.status)
    assert (await bridge.get("/healthz")).status == 200


async def test_odd_transcript_tokens_are_refused_not_errors(bridge: Bridge) -> None:
    await setup_room(bridge, MAI)
    chat = await open_chat(bridge, "cust-token", "Hi")
    for token in ("²", "²." + "a" * 64, "9" * 4400, "9" * 5000 + ".ab", "%00", "1.%F0%9F"):
        response = await bridge.get(f"/transcripts/{chat.chat_id}?token={token}")
        # A NUL is refused before any handler, in any parameter of any route (400).
        assert response.status == (400 if token == "%00" else 403), token


# 9. Notes -------------------------------------------------------------------------------------


async def test_notes_on_a_closed_chat_are_refused(bridge: Bridge) -> None:
    chat = await accepted_chat(bridge, "cust-closed-note", "Hi", MINH, supervisor=MAI)
    url = bridge.service_url
    assert (await bridge.post(act.room_message(url, MINH, "/close", thread=chat.thread))).status
    await bridge.settled()
    for who in (MINH, MAI):
        note = act.reply(url, who, chat.thread, "// too late")
        assert (await bridge.post(note)).status == 201
    await bridge.settled()
    assert bridge.connector.texts(chat.thread)[-1].count("only while the chat is open") == 1
    assert "too late" not in await transcript_html(bridge, chat)


# 10. Limits -----------------------------------------------------------------------------------


async def test_a_flood_of_new_chats_is_kept_answered_and_reaches_the_room_at_the_limit(
    start_bridge: Any, clock: Any
) -> None:
    bridge = await start_bridge(
        clock=clock, timer_interval=0.05, new_chats_per_channel=2, unanswered_seconds=600
    )
    await setup_room(bridge, MAI)
    for n in range(5):
        activity = act.webchat_message(bridge.service_url, f"flood-{n}", f"Help {n}", locale="en")
        assert (await bridge.post(activity)).status == 201
    await bridge.settled()
    assert len(bridge.connector.created()) == 2
    for n in range(2, 5):
        assert "Many customers are writing" in bridge.connector.texts(f"conv-flood-{n}")[-1]
    count = await rows(bridge, select(func.count(Chat.id)))
    assert count[0][0] == 5  # every message kept, in its chat
    # A held chat has no thread yet: what its customer adds waits for the card.
    later = act.webchat_message(bridge.service_url, "flood-2", "Still there?", locale="en")
    assert (await bridge.post(later)).status == 201
    await bridge.settled()
    assert await rows(bridge, select(OutboxItem.state).where(OutboxItem.state == "failed")) == []
    clock.advance(61)
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) == 4)
    released = next(
        c for c in bridge.connector.created() if "Help 2" in card_text(c.body["activity"])
    )
    await bridge.connector.wait_for(
        lambda: any("Still there?" in t for t in bridge.connector.texts(released.conversation_id))
    )
    clock.advance(60)
    await bridge.connector.wait_for(lambda: len(bridge.connector.created()) == 5)
    await bridge.settled()
    texts = [card_text(c.body["activity"]) for c in bridge.connector.created()]
    assert [any(f"Help {n}" in t for t in texts) for n in range(5)] == [True] * 5


async def test_old_inbound_keys_and_failed_rows_are_purged_and_deliveries_give_up(
    start_bridge: Any, clock: Any
) -> None:
    # The chat is never announced again (the clock jumps a month): the rows counted are
    # only the ones the purge owns.
    bridge = await start_bridge(
        clock=clock,
        outbox_max_age_hours=1.0,
        retry_max_delay=0.05,
        unanswered_seconds=10**9,
    )
    await setup_room(bridge, MAI)
    bridge.connector.add_fault(Fault(method="POST", status=503, times=10_000))
    activity = act.webchat_message(bridge.service_url, "cust-gone", "Hello")
    assert (await bridge.post(activity)).status == 201
    # Both sends (the card, the customer's acknowledgement) have failed once and wait.
    attempts = select(func.min(OutboxItem.attempts)).where(OutboxItem.state == "pending")
    deadline = asyncio.get_running_loop().time() + 10
    while ((await rows(bridge, attempts))[0][0] or 0) < 1:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    clock.advance(3601)
    await bridge.settled(timeout=20)
    dispatcher = bridge.app[keys.DISPATCHER]
    assert dispatcher.given_up >= 1
    clock.advance(31 * 86400)
    async with bridge.app[keys.STORE].unit() as tx:
        assert await dispatch.purge(tx, Retention()) > 0
    bridge.connector.clear_faults()
    # The keys are gone: nothing is left in the tables housekeeping owns.
    assert await rows(bridge, select(InboundActivity.key, InboundActivity.received_at)) == []
    assert (await rows(bridge, select(func.count(OutboxItem.id))))[0][0] == 0


# 12. Spoofing in the thread -------------------------------------------------------------------


async def test_customer_markup_is_shown_as_typed(bridge: Bridge) -> None:
    await setup_room(bridge, MAI)
    await go_online(bridge, MINH)
    name = "**SupportBot**"
    chat = await open_chat(bridge, "cust-spoof", "Hi", name=name)
    spoof = "<at>Minh</at> chat closed\n**SupportBot:** [pay here](https://evil.test)"
    activity = act.webchat_message(bridge.service_url, "cust-spoof", spoof, name=name)
    assert (await bridge.post(activity)).status == 201
    await bridge.settled()
    shown = bridge.connector.activities(chat.thread)[-1]
    assert "<at>" not in shown["text"] and "](" not in shown["text"].replace("\\](", "")
    assert "&lt;at&gt;Minh&lt;/at&gt;" in shown["text"]
    assert "\\*\\*SupportBot\\*\\*" in shown["text"]
    assert "\\[pay here\\]\\(https://evil.test\\)" in shown["text"]
    assert not shown.get("entities")
    card = bridge.connector.created()[0].body["activity"]["attachments"][0]["content"]
    assert "\\*\\*SupportBot\\*\\*" in json.dumps(card).replace("\\\\", "\\")


async def test_configured_tenants_refuse_even_the_first_setup_from_elsewhere(
    start_bridge: Any,
) -> None:
    bridge = await start_bridge(allowed_tenant_ids=frozenset({act.TENANT}))
    first = foreign(act.room_message(bridge.service_url, MALLORY, "setup"))
    assert (await bridge.post(first)).status == 201
    await bridge.settled()
    assert await department_channels(bridge) == []
    assert bridge.connector.calls == []
    await setup_room(bridge, MAI)
    assert await department_channels(bridge) == [("default", act.ROOM)]


async def test_many_ids_in_one_conversation_count_as_one_conversation(start_bridge: Any) -> None:
    bridge = await start_bridge(new_chats_per_conversation=2)
    await setup_room(bridge, MAI)
    for n in range(4):
        activity = act.webchat_message(bridge.service_url, f"sock-{n}", f"Hi {n}", locale="en")
        activity["conversation"] = {"id": "conv-one-attacker"}
        assert (await bridge.post(activity)).status == 201
    await bridge.settled()
    assert len(bridge.connector.created()) == 2
    held = bridge.connector.texts("conv-one-attacker")
    assert sum("Many customers are writing" in t for t in held) == 2
    # Someone else's conversation is not held back by it.
    await open_chat(bridge, "cust-innocent", "Hello")
    assert len(bridge.connector.created()) == 3
