"""The unit of work on both engines: what it holds is written before its next statement,
whichever way that statement runs, and a savepoint that is undone takes with it exactly
what was queued inside it (a transfer that lost its offer must leave no "transferred"
line in the transcript and send nothing)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from store import Store
from store.intake import CustomerTurn, FloodLimit, Opened, do_customer_message
from store.models import Message, MessageKind, OutboxItem
from store.outbox import Outgoing
from store.unit import Unit

FLOOD = FloodLimit(messages=100, window=10.0)


class Undone(Exception):
    """The change inside the savepoint found its precondition gone."""


async def open_chat(store: Store) -> int:
    turn = CustomerTurn(
        channel_id="webchat",
        user_id="unit-customer",
        name="Lan",
        locale="en",
        reference={"conversation": {"id": "conv-unit"}},
        text="hello",
        source_key="unit:1",
    )
    async with store.unit() as tx:
        opened = await do_customer_message(tx, turn, ["unit:1"], FLOOD)
    assert isinstance(opened, Opened)
    return opened.chat.id


async def lines(tx: Unit, chat_id: int) -> list[str]:
    rows = await tx.execute(
        select(Message.text).where(Message.chat_id == chat_id).order_by(Message.id)
    )
    return list(rows.scalars())


def send(text: str) -> Outgoing:
    return Outgoing("conv:unit", "send", {"activity": {"type": "message", "text": text}})


async def test_what_a_unit_holds_is_read_back_by_core_and_by_the_orm(store: Store) -> None:
    chat_id = await open_chat(store)
    async with store.unit() as tx:
        tx.note(chat_id, MessageKind.BOT, "", "noted")
        tx.enqueue([send("queued")])
        assert (await lines(tx, chat_id))[-1] == "noted"
        orm_count = await tx.session.scalar(
            select(func.count(OutboxItem.id)).where(OutboxItem.lane == "conv:unit")
        )
        assert orm_count == 1
        tx.note(chat_id, MessageKind.BOT, "", "after the session")
        assert await tx.session.scalar(select(func.count(Message.id))) == 3
    async with store.reading() as tx:
        assert await lines(tx, chat_id) == ["hello", "noted", "after the session"]


async def test_an_undone_savepoint_drops_what_it_queued_and_keeps_what_came_before(
    store: Store,
) -> None:
    chat_id = await open_chat(store)
    async with store.unit() as tx:
        tx.note(chat_id, MessageKind.BOT, "", "before")
        with pytest.raises(Undone):
            async with tx.savepoint():
                tx.note(chat_id, MessageKind.ACTIVITY, "Minh", "transferred")
                tx.enqueue([send("you have the chat")])
                raise Undone
        async with tx.savepoint():
            tx.note(chat_id, MessageKind.ACTIVITY, "Minh", "invite_accepted")
        tx.enqueue([send("kept")])
    assert [row.payload["activity"]["text"] for row in tx.added] == ["kept"]
    async with store.reading() as tx:
        assert await lines(tx, chat_id) == ["hello", "before", "invite_accepted"]
        sent = await tx.execute(select(OutboxItem.payload).where(OutboxItem.lane == "conv:unit"))
        assert [payload["activity"]["text"] for payload in sent.scalars()] == ["kept"]


async def test_a_unit_that_fails_writes_nothing_it_held(store: Store) -> None:
    chat_id = await open_chat(store)
    with pytest.raises(Undone):
        async with store.unit() as tx:
            tx.note(chat_id, MessageKind.BOT, "", "never")
            tx.enqueue([send("never")])
            assert (await lines(tx, chat_id))[-1] == "never"
            raise Undone
    async with store.reading() as tx:
        assert await lines(tx, chat_id) == ["hello"]
