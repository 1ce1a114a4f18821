"""Database cost of the hottest turns, counted over HTTP against the real app.

Every statement and transaction the bridge runs while handling one inbound activity
is counted (the turn's task sets its activity id, which SQLAlchemy's events see);
the dispatcher's own work on other tasks is not part of the turn. The budgets are
issue 12's: a relayed customer message is one transaction of at most four
statements, an Accept at most two transactions and twelve statements. Issue 29 counts
the dispatcher's share of a relayed line too: with its delivery's mark, at most one and
a half transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot import keys
from bot.delivery import MARK_DELAY
from store import trace
from tests import activities as act
from tests.conftest import (
    Bridge,
    BridgeFactory,
    OpenChat,
    accept,
    go_online,
    open_chat,
    setup_room,
)

# Statements a connection runs for itself, not for the turn.
_HOUSEKEEPING = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")


@dataclass
class Cost:
    """What one activity cost the database."""

    task: object = None  # the turn's own task: the dispatcher's tasks inherit its id
    statements: list[str] = field(default_factory=list)
    transactions: int = 0

    @property
    def pacing(self) -> list[str]:
        """The statements that claim send budgets (``pace_budgets``): the dispatcher's work
        done inside the unit on SQLite, where it saves the claim's own transaction."""
        return [s for s in self.statements if "pace_budgets" in s]

    @property
    def own(self) -> list[str]:
        """The turn's own statements: everything but the pacing claim."""
        return [s for s in self.statements if "pace_budgets" not in s]

    def __str__(self) -> str:
        listed = "\n  ".join(" ".join(s.split())[:200] for s in self.statements)
        return f"{self.transactions} transactions, {len(self.statements)} statements:\n  {listed}"


class Costs:
    """Counts, per inbound activity id, what the turns of one bridge run."""

    def __init__(self, bridge: Bridge) -> None:
        self.by_activity: dict[str, Cost] = {}
        # Every transaction the bridge begins, whichever task begins it.
        self.begun = 0
        self.engine = bridge.app[keys.ENGINE].sync_engine
        _COUNTING.append(self)

    def of(self, activity_id: str) -> Cost:
        return self.by_activity.get(activity_id, Cost())

    def _turn(self) -> Cost | None:
        """The cost of the turn running on this task, if this is a turn's own task."""
        turn = trace.ACTIVITY_ID.get()
        if turn is None:
            return None
        cost = self.by_activity.setdefault(turn, Cost(task=asyncio.current_task()))
        return cost if cost.task is asyncio.current_task() else None

    def statement(self, statement: str) -> None:
        cost = self._turn()
        if cost is not None and not statement.lstrip().upper().startswith(_HOUSEKEEPING):
            cost.statements.append(statement)

    def begin(self) -> None:
        self.begun += 1
        cost = self._turn()
        if cost is not None:
            cost.transactions += 1


# Listeners are added once, on the Engine class, before any bridge starts: adding one
# to a running engine while another task's connection is inside its ``begin`` listeners
# would change the list under it.
_COUNTING: list[Costs] = []


@event.listens_for(Engine, "before_cursor_execute")
def _statement(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    for costs in _COUNTING:
        if conn.engine is costs.engine:
            costs.statement(statement)


@event.listens_for(Engine, "begin")
def _begin(conn: Any) -> None:
    for costs in _COUNTING:
        if conn.engine is costs.engine:
            costs.begin()


@pytest.fixture(autouse=True)
def _stop_counting() -> Iterator[None]:
    yield
    _COUNTING.clear()


async def _accepted_chat(bridge: Bridge) -> tuple[OpenChat, act.Agent]:
    room = await setup_room(bridge)
    await go_online(bridge, room.supervisor)
    chat = await open_chat(bridge, "budget-customer", "Xin chào")
    await accept(bridge, chat, room.supervisor)
    return chat, room.supervisor


async def test_a_relayed_customer_message_is_one_short_transaction(bridge: Bridge) -> None:
    costs = Costs(bridge)
    chat, _ = await _accepted_chat(bridge)
    before = len(bridge.connector.texts(chat.thread))
    message = act.webchat_message(
        bridge.service_url, chat.customer, "Đơn hàng của tôi ở đâu?", client_activity_id="c-1"
    )
    response = await bridge.post(message)
    assert response.status == 201
    cost = costs.of(message["id"])
    await bridge.connector.wait_for(lambda: len(bridge.connector.texts(chat.thread)) > before)
    assert "Đơn hàng của tôi ở đâu?" in bridge.connector.texts(chat.thread)[-1]
    assert cost.transactions == 1, str(cost)
    assert len(cost.own) <= 4, str(cost)
    # The send's budgets are claimed in the same unit (two statements), which saves the
    # dispatcher a transaction (on PostgreSQL only while it claims nothing itself).
    assert len(cost.pacing) <= 2, str(cost)


async def test_relayed_lines_cost_a_transaction_and_a_half_at_most(
    start_bridge: BridgeFactory,
) -> None:
    """Pacing on, customers' lines relayed one after the other's arrival, over a few
    accepted chats (as the growth bench sends them: per thread, each well within its
    budget),
    cost at most 1.5 transactions each, every task's counted: the line's unit, and its
    delivery's mark, which rides with the next line's unit (or goes alone after a short
    delay, as the last one's here). A mark of its own per line is 2.0."""
    bridge = await start_bridge(pace_per_channel=False)
    costs = Costs(bridge)
    room = await setup_room(bridge)
    await go_online(bridge, room.supervisor)
    chats = [await open_chat(bridge, f"budget-customer-{n}", "Xin chào") for n in range(4)]
    for chat in chats:
        await accept(bridge, chat, room.supervisor)
    await bridge.settled()
    lines = 12
    begun = costs.begun
    for n in range(lines):
        chat, text = chats[n % len(chats)], f"Dòng số {n}"
        message = act.webchat_message(bridge.service_url, chat.customer, text)
        assert (await bridge.post(message)).status == 201
        await bridge.connector.wait_for(
            lambda chat=chat, text=text: any(text in t for t in bridge.connector.texts(chat.thread))
        )
    await asyncio.sleep(MARK_DELAY * 4)  # the last line's mark, alone
    spent = costs.begun - begun
    assert await bridge.pending() == 0  # every mark is counted
    assert spent <= lines * 1.5, f"{spent} transactions for {lines} lines"


async def test_an_agent_reply_is_one_short_transaction(bridge: Bridge) -> None:
    costs = Costs(bridge)
    chat, agent = await _accepted_chat(bridge)
    reply = act.room_message(
        bridge.service_url, agent, "Đơn đang được giao.", thread=chat.thread, mention_bot=False
    )
    response = await bridge.post(reply)
    assert response.status == 201
    cost = costs.of(reply["id"])
    await bridge.connector.wait_for(
        lambda: "Đơn đang được giao." in bridge.connector.texts(chat.conversation)
    )
    # The trust gate's read (one statement), then the relay's unit.
    assert cost.transactions <= 2, str(cost)
    assert len(cost.own) <= 7, str(cost)
    assert len(cost.pacing) <= 2, str(cost)


async def test_an_accept_is_two_transactions_at_most(bridge: Bridge) -> None:
    costs = Costs(bridge)
    room = await setup_room(bridge)
    await go_online(bridge, room.supervisor)
    chat = await open_chat(bridge, "budget-customer", "Xin chào")
    data = {"action": "accept", "chat": chat.chat_id}
    press = act.invoke_action(bridge.service_url, room.supervisor, chat.thread, "accept", data)
    response = await bridge.post(press)
    assert response.status == 200
    cost = costs.of(press["id"])
    answer = await response.json()
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    await bridge.connector.wait_for(lambda: bool(bridge.connector.texts(chat.conversation)))
    assert cost.transactions <= 2, str(cost)
    assert len(cost.own) <= 12, str(cost)
    # Two sends' budgets; a budget's row is made the first time it is spent from.
    assert len(cost.pacing) <= 4, str(cost)


async def test_an_automatic_assignment_is_one_more_short_transaction(bridge: Bridge) -> None:
    """A new chat in a round-robin department is offered in the transaction that opens
    it: no transaction more than under broadcast, and a bounded number of statements."""
    costs = Costs(bridge)
    room = await setup_room(bridge)
    for n in range(3):
        await go_online(bridge, act.agent(40 + n))

    async def opened(customer: str) -> Cost:
        message = act.webchat_message(bridge.service_url, customer, "Xin chào")
        response = await bridge.post(message)
        assert response.status == 201
        await bridge.settled()
        return costs.of(message["id"])

    broadcast = await opened("budget-broadcast")
    assignment = act.room_message(bridge.service_url, room.supervisor, "assignment round_robin")
    assert (await bridge.post(assignment)).status == 201
    automatic = await opened("budget-automatic")
    assert automatic.transactions == broadcast.transactions, str(automatic)
    added = len(automatic.own) - len(broadcast.own)
    # The candidates, their lock, the offer, the member's turn, the chat's view (3).
    assert added <= 10, str(automatic)


async def test_a_line_under_response_targets_costs_more_only_when_a_wait_begins(
    bridge: Bridge,
) -> None:
    """With a next-answer target, the customer's line after an agent's answer begins a
    wait (the hours read and the chat's UPDATE: two statements more, one transaction);
    their next line, while that wait runs, costs what any relayed line costs."""
    costs = Costs(bridge)
    chat, agent = await _accepted_chat(bridge)
    targets = act.room_message(bridge.service_url, agent, "targets next 10m")
    assert (await bridge.post(targets)).status == 201
    reply = act.room_message(
        bridge.service_url, agent, "Chào anh.", thread=chat.thread, mention_bot=False
    )
    assert (await bridge.post(reply)).status == 201
    await bridge.settled()
    spent = []
    for n, text in enumerate(("Cho tôi hỏi", "Đơn hàng ở đâu?")):
        message = act.webchat_message(
            bridge.service_url, chat.customer, text, client_activity_id=f"t-{n}"
        )
        assert (await bridge.post(message)).status == 201
        await bridge.settled()
        spent.append(costs.of(message["id"]))
    begins, runs = spent
    assert begins.transactions == 1 and runs.transactions == 1, (str(begins), str(runs))
    assert len(runs.own) <= 4, str(runs)
    assert len(begins.own) == len(runs.own) + 2, (str(begins), str(runs))
