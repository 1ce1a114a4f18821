"""Team moves racing on two replicas of one database: the database decides, once.

On PostgreSQL nothing but the database orders two replicas' transactions: an offer
is kept single by its partial unique index (the losing INSERT does nothing), and a
Join takes its turn on the chat's row with a Close (the UPDATE's WHERE says the chat
is open and the joiner supervises it). Each race is also run on one SQLite file.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from bot import keys
from store.models import (
    Agent,
    Chat,
    Message,
    MessageKind,
    Offer,
    OfferKind,
    OfferState,
    Participant,
    Supervisor,
)
from store.vocabulary import ChatEvent
from tests import activities as act
from tests.conftest import Bridge, BridgeFactory, OpenChat, accept, open_chat, setup_room
from tests.test_team import MAI, MESSAGE, MINH, online, say

CONTENDERS = 8
COLLEAGUES = [act.agent(200 + n, f"Colleague {n}") for n in range(CONTENDERS)]


async def _pressed(bridge: Bridge, chat: OpenChat, who: act.Agent, verb: str, **data: Any) -> Any:
    payload = {"action": verb, "chat": chat.chat_id, **data}
    response = await bridge.post(
        act.invoke_action(bridge.service_url, who, chat.thread, verb, payload)
    )
    assert response.status == 200, await response.text()
    return await response.json()


def _said(answer: dict[str, Any]) -> str:
    return str(answer["value"])


async def _scalar(bridge: Bridge, query: Any) -> Any:
    async with bridge.app[keys.ENGINE].connect() as connection:
        return await connection.scalar(query)


async def _replicas(start_bridge: BridgeFactory) -> list[Bridge]:
    replicas = [await start_bridge(), await start_bridge()]
    await setup_room(replicas[0], MAI)
    return replicas


async def _settled(replicas: list[Bridge]) -> None:
    for replica in replicas:
        await replica.settled()


async def test_one_transfer_waits_at_a_time(start_bridge: BridgeFactory) -> None:
    """The owner offers the chat to eight colleagues at once, from both replicas: one
    transfer is made, seven are refused as already waiting, none fails."""
    replicas = await _replicas(start_bridge)
    first = replicas[0]
    chat = await open_chat(first, "cust-race", "Xin chào", name="Lan")
    await accept(first, chat, MINH)
    await online(first, *COLLEAGUES)

    answers = await asyncio.gather(
        *(
            _pressed(replicas[n % 2], chat, MINH, "transfer", agent=who.id)
            for n, who in enumerate(COLLEAGUES)
        )
    )
    await _settled(replicas)
    offered = [a for a in answers if "Transfer offered to" in _said(a)]
    waiting = [a for a in answers if "already waiting for an answer" in _said(a)]
    assert len(offered) == 1, [_said(a) for a in answers]
    assert len(waiting) == CONTENDERS - 1 and all(a["type"] == MESSAGE for a in waiting)
    pending = select(func.count(Offer.id)).where(
        Offer.kind == OfferKind.TRANSFER, Offer.state == OfferState.PENDING
    )
    assert await _scalar(first, pending) == 1
    thread = first.connector.activities(chat.thread)
    assert sum("hand this chat over to you" in a.get("text", "") for a in thread) == 1


async def test_one_invitation_per_colleague(start_bridge: BridgeFactory) -> None:
    """The same invitation pressed eight times at once (a double-clicking owner, two
    replicas): one invitation is made, the others say it is waiting."""
    replicas = await _replicas(start_bridge)
    first = replicas[0]
    chat = await open_chat(first, "cust-race", "Xin chào", name="Lan")
    await accept(first, chat, MINH)
    invitee = COLLEAGUES[0]
    await online(first, invitee)

    answers = await asyncio.gather(
        *(_pressed(replicas[n % 2], chat, MINH, "invite", agent=invitee.id) for n in range(8))
    )
    await _settled(replicas)
    sent = [a for a in answers if "Invitation sent to" in _said(a)]
    waiting = [a for a in answers if "already been invited" in _said(a)]
    assert len(sent) == 1 and len(waiting) == len(answers) - 1, [_said(a) for a in answers]
    pending = select(func.count(Offer.id)).where(
        Offer.kind == OfferKind.INVITE, Offer.state == OfferState.PENDING
    )
    assert await _scalar(first, pending) == 1


async def test_join_and_close_take_turns(start_bridge: BridgeFactory) -> None:
    """Eight supervisors press Join while the owner presses Close, on two replicas.
    Whoever joined did so before the close (the close let them out again); whoever
    came after is told the chat is closed. Nobody is left seated in a closed chat."""
    replicas = await _replicas(start_bridge)
    first = replicas[0]
    for who in COLLEAGUES:
        await first.post(
            act.room_message(first.service_url, MAI, "supervisor add @x", mentions=(who,))
        )
    await first.connector.wait_for(
        lambda: sum("Supervisors of" in t for t in first.connector.texts(act.ROOM)) >= CONTENDERS
    )
    chat = await open_chat(first, "cust-race", "Xin chào", name="Lan")
    await accept(first, chat, MINH)

    presses = [_pressed(replicas[n % 2], chat, who, "join") for n, who in enumerate(COLLEAGUES)]
    presses.insert(CONTENDERS // 2, _pressed(replicas[1], chat, MINH, "close"))
    answers = await asyncio.gather(*presses)
    await _settled(replicas)
    joins = [a for a in answers if a is not answers[CONTENDERS // 2]]
    closed_late = [a for a in joins if a["type"] == MESSAGE]
    assert all("this chat is closed" in _said(a) for a in closed_late), [_said(a) for a in joins]
    assert await _scalar(first, select(Chat.state)) == "closed"
    seated = select(func.count(Participant.id)).where(Participant.left_at.is_(None))
    assert await _scalar(first, seated) == 0
    # Every supervisor answered with a card did join (they are in the transcript's people).
    joined = select(func.count(Participant.id)).where(Participant.role == "supervisor")
    assert await _scalar(first, joined) == len(joins) - len(closed_late)
    # After the close, a join is refused the same way.
    await say(first, chat, COLLEAGUES[0], "/join")
    assert "this chat is closed" in first.connector.activities(chat.thread)[-1]["text"]


async def test_one_supervisor_joins_once(start_bridge: BridgeFactory) -> None:
    """A supervisor's Join pressed on both replicas at once (a double click behind a load
    balancer): one seat, one "joined" line in the transcript; the other press is answered
    "already in this chat". On PostgreSQL the second Join waits for the first on the chat's
    row and then still reads "not seated" from its statement's snapshot: only the seat's
    own row, written conditionally, can refuse it."""
    replicas = await _replicas(start_bridge)
    first = replicas[0]
    chat = await open_chat(first, "cust-race", "Xin chào", name="Lan")
    await accept(first, chat, MINH)

    for round_ in range(3):
        answers = await asyncio.gather(
            *(_pressed(replicas[n % 2], chat, MAI, "join") for n in range(CONTENDERS))
        )
        await _settled(replicas)
        lines = select(func.count(Message.id)).where(
            Message.kind == MessageKind.ACTIVITY, Message.text == ChatEvent.SUPERVISOR_JOINED
        )
        assert await _scalar(first, lines) == round_ + 1
        refused = [a for a in answers if "already in this chat" in _said(a)]
        assert len(refused) == CONTENDERS - 1, [_said(a)[:300] for a in answers]
        seats = select(func.count(Participant.id)).where(Participant.left_at.is_(None))
        assert await _scalar(first, seats) == 2  # the owner and the supervisor
        await _pressed(first, chat, MAI, "leave")


async def test_two_supervisors_removing_each_other_leave_one(start_bridge: BridgeFactory) -> None:
    """Mai removes Tuan while Tuan removes Mai, on two replicas at once, a few times over:
    one of them always remains. Each removal counts the other supervisors; on PostgreSQL
    both counts would see two, unless the department's row makes them take turns."""
    replicas = await _replicas(start_bridge)
    first = replicas[0]
    tuan = COLLEAGUES[0]
    supervisors = select(func.count(Supervisor.id))
    for _ in range(4):
        await first.post(
            act.room_message(first.service_url, MAI, "supervisor add @x", mentions=(tuan,))
        )
        await _settled(replicas)
        assert await _scalar(first, supervisors) == 2
        pairs = [(MAI, tuan), (tuan, MAI)]
        await asyncio.gather(
            *(
                replicas[n].post(
                    act.room_message(
                        first.service_url, who, "supervisor remove @x", mentions=(other,)
                    )
                )
                for n, (who, other) in enumerate(pairs)
            )
        )
        await _settled(replicas)
        assert await _scalar(first, supervisors) == 1
        if await _scalar(first, select(Supervisor.id).join(Agent).where(Agent.teams_id == MAI.id)):
            continue
        # Tuan remains: he gives Mai her seat back for the next round.
        await first.post(
            act.room_message(first.service_url, tuan, "supervisor add @x", mentions=(MAI,))
        )
        await _settled(replicas)
        await first.post(
            act.room_message(first.service_url, MAI, "supervisor remove @x", mentions=(tuan,))
        )
        await _settled(replicas)
