"""The history's word search finds the same chats, in the same order, whichever way it
looks for them: on SQLite a word in more chats than the count's limit is looked for
chat by chat along the walk by close time (first within a window of recent chats, whose
lines alone FTS5 lists; the whole walk when the window holds too few), a rarer one
through the list of its chats (on PostgreSQL the planner chooses; the same pages are
asked of it)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from store import Store, history, migrate
from store.engine import create_engine
from store.history import HistoryFilter, closed_chats
from store.models import Chat, ChatState, Customer, Department, Message, MessageKind

NOW = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)
WORDS = ("Bảo hành", "refund", "invoice", "giao hàng")


async def seed(store: Store, chats: int = 60) -> int:
    """Closed chats whose lines say some of ``WORDS`` (any case); returns the department."""
    rng = random.Random(7)
    async with store.unit() as tx:
        department = (
            await tx.execute(
                insert(Department)
                .values(key="d", name="D", channel_id="19:d", room_reference={}, created_at=NOW)
                .returning(Department.id)
            )
        ).scalar_one()
        customer = (
            await tx.execute(
                insert(Customer)
                .values(
                    channel_id="webchat",
                    user_id="u",
                    name="Lan",
                    locale="vi",
                    reference={},
                    created_at=NOW,
                )
                .returning(Customer.id)
            )
        ).scalar_one()
        for n in range(chats):
            opened = NOW - timedelta(hours=rng.uniform(1, 2000))
            chat = (
                await tx.execute(
                    insert(Chat)
                    .values(
                        public_id=f"hs-{n}",
                        customer_id=customer,
                        department_id=department,
                        state=ChatState.CLOSED,
                        created_at=opened,
                        # Some close at the same moment: the order falls back to the id.
                        closed_at=opened + timedelta(minutes=rng.choice((5, 5, 30, 90))),
                    )
                    .returning(Chat.id)
                )
            ).scalar_one()
            said = [w.upper() if rng.random() < 0.3 else w for w in WORDS if rng.random() < 0.5]
            lines = [f"xin chào {word} nhé" for word in said] + ["cảm ơn"]
            await tx.execute(
                insert(Message),
                [
                    {
                        "chat_id": chat,
                        "kind": MessageKind.INCOMING,
                        "author": "Lan",
                        "text": line,
                        "created_at": opened,
                    }
                    for line in lines
                ],
            )
    return department


async def pages(store: Store, department: int, words: str) -> list[list[str]]:
    found = []
    async with store.reading() as tx:
        for page in range(1, 5):
            result = await closed_chats(tx, department, HistoryFilter(text=words), page, 7)
            found.append([row.ref for row in result.rows])
    return found


# Windows of recent chats: the page's chats exactly (most pages fall back to the whole
# walk), two and three times them (some pages found in the window, some not), and the
# default, which holds all 60 chats for the first pages.
@pytest.mark.parametrize("window", [1, 2, 3, history.RECENT_WINDOW])
async def test_a_common_word_pages_as_a_rare_one(
    store: Store, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    department = await seed(store)
    for words in (*WORDS, "hành", "REFUND", "nothing"):
        sparse = await pages(store, department, words)
        # Every word is now "in more chats than the limit": the other way of looking.
        monkeypatch.setattr(history, "COUNT_LIMIT", 0)
        monkeypatch.setattr(history, "RECENT_WINDOW", window)
        dense = await pages(store, department, words)
        monkeypatch.undo()
        assert dense == sparse, words
        if words != "nothing":
            assert sparse[0], words


async def test_a_name_is_looked_up_once_for_the_page_and_its_count(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page and its count share one look-up of the customers a name names (on
    PostgreSQL a trigram scan of every name); a name naming more customers than
    ``NAMED_MOST`` is looked up by each statement, with the same page."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    store = Store(engine, serialize_writes=database_url.startswith("sqlite"))
    looked: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def seen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        values = params.values() if isinstance(params, dict) else params or ()
        if any(isinstance(value, str) and "lan%" in value.lower() for value in values):
            looked.append(statement)

    try:
        department = await seed(store)
        found = []
        for most in (history.NAMED_MOST, 0):
            monkeypatch.setattr(history, "NAMED_MOST", most)
            looked.clear()
            async with store.reading() as tx:
                page = await closed_chats(tx, department, HistoryFilter(customer="lan"), 2, 7)
            found.append(([row.ref for row in page.rows], page.total))
            assert len(looked) == (1 if most else 3), looked
        assert found[0] == found[1]
        assert found[0][1] == 60 and len(found[0][0]) == 7
    finally:
        await engine.dispose()


# The count's limit lowered to 10 (the seed's common words are in about 30 of 60 chats),
# and PostgreSQL's probe and window of recent chats: a window that meets the limit; one
# too short for it (the whole count follows); a probe that finds no word common enough.
# "khuyến mãi" is said in the three newest chats only: common to the probe, yet fewer
# chats than the limit.
@pytest.mark.parametrize(
    ("probe", "dense", "window"), [(5, 1, 44), (5, 1, 8), (60, 60, 44), (5, 6, 44)]
)
async def test_a_word_is_counted_the_same_whichever_way(
    store: Store, monkeypatch: pytest.MonkeyPatch, probe: int, dense: int, window: int
) -> None:
    department = await seed(store)
    async with store.unit() as tx:
        # A word only the newest chats say: common in the probe, under the limit in all.
        newest = (
            await tx.session.scalars(
                select(Chat.id).order_by(Chat.closed_at.desc(), Chat.id.desc()).limit(3)
            )
        ).all()
        await tx.execute(
            insert(Message),
            [
                {
                    "chat_id": chat,
                    "kind": MessageKind.INCOMING,
                    "author": "Lan",
                    "text": "Mã Khuyến mãi",
                    "created_at": NOW,
                }
                for chat in newest
            ],
        )
    async with store.reading() as tx:
        lines = (await tx.session.execute(select(Message.chat_id, Message.text))).all()
    monkeypatch.setattr(history, "COUNT_LIMIT", 10)
    monkeypatch.setattr(history, "PROBE_CHATS", probe)
    monkeypatch.setattr(history, "PROBE_DENSE", dense)
    monkeypatch.setattr(history, "COUNT_WINDOW", window)
    for words in (*WORDS, "hành", "REFUND", "nothing", "khuyến mãi"):
        chats = {chat for chat, text in lines if words.lower() in text.lower()}
        async with store.reading() as tx:
            page = await closed_chats(tx, department, HistoryFilter(text=words), 1, 7)
        assert (page.total, page.capped) == (min(len(chats), 10), len(chats) > 10), words
