"""Universal Actions over HTTP: Teams asks for each reader's own view of a request card
(``refresh`` invoke), and the bridge answers it from the database, behind the trust gate."""

from __future__ import annotations

from tests import activities as act
from tests.conftest import Bridge, accept, open_chat, setup_room, view_of
from tests.test_bridge import card_of, verbs

MINH, STRANGER = act.agent(2, "Minh"), act.agent(3, "Phong")


async def test_each_reader_gets_the_buttons_of_their_role(bridge: Bridge) -> None:
    room = await setup_room(bridge)
    chat = await open_chat(bridge, "cust-views", "Đơn hàng #A1234 chưa giao", name="Lan")
    created = card_of(bridge.connector.created()[0].body["activity"])
    # The supervisor is one of the readers Teams asks a view for from the start.
    assert created["refresh"]["userIds"] == [room.supervisor.id]
    assert verbs(await view_of(bridge, chat, room.supervisor)) == ["accept", "join"]
    assert verbs(await view_of(bridge, chat, STRANGER)) == ["accept"]
    await accept(bridge, chat, MINH)
    updated = card_of(bridge.connector.updates(chat.thread, chat.card_id)[-1])
    assert updated["refresh"]["userIds"] == [MINH.id, room.supervisor.id]
    assert verbs(updated) == []
    assert verbs(await view_of(bridge, chat, MINH)) == ["close", "transfer", "invite"]
    supervisor = await view_of(bridge, chat, room.supervisor)
    assert verbs(supervisor) == ["join", "close"]
    assert supervisor["actions"][1]["mode"] == "secondary"
    assert verbs(await view_of(bridge, chat, STRANGER)) == []
    # A refresh changes nothing: no message anywhere, no new card version.
    assert bridge.connector.texts(chat.thread) == []


async def test_a_refresh_from_outside_the_room_is_refused(bridge: Bridge) -> None:
    await setup_room(bridge)
    chat = await open_chat(bridge, "cust-views-2", "Hi", locale="en-US")
    card = card_of(bridge.connector.created()[0].body["activity"])
    elsewhere = act.refresh_invoke(bridge.service_url, MINH, chat.thread, card)
    other = "19:elsewhere@thread.tacv2"
    elsewhere["conversation"]["id"] = f"{other};messageid=1"
    elsewhere["channelData"]["channel"] = {"id": other}
    response = await bridge.post(elsewhere)
    assert response.status == 403
    answer = await response.json()
    assert "Hi" not in str(answer) and chat.chat_id not in str(answer)
