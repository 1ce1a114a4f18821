"""The history's word search finds the same chats, in the same order, whichever way it
looks for them: on SQLite a word in more chats than the count's limit is looked for
chat by chat along the walk by close time, a rarer one through the list of its chats
(on PostgreSQL the planner chooses; the same pages are asked of it)."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, insert

from store import Store, history, migrate
from store.engine import create_engine
from store.history import HistoryFilter, closed_chats
from store.models import (
    Agent,
    Chat,
    ChatState,
    ChatTag,
    Customer,
    Department,
    Message,
    MessageKind,
    Tag,
)
from web.console import views
from web.console.views import csv_chunks

NOW = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)
WORDS = ("Bảo hành", "refund", "invoice", "giao hàng")


def in_saigon(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("SET TIME ZONE 'Asia/Ho_Chi_Minh'")
    cursor.close()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    engine = create_engine(database_url)
    if engine.dialect.name == "postgresql":
        # A server in another zone than UTC: what is read is still UTC.
        event.listen(engine.sync_engine, "connect", in_saigon)
    await migrate.upgrade(engine)
    yield Store(engine, serialize_writes=database_url.startswith("sqlite"))
    await engine.dispose()


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


async def test_a_common_word_pages_as_a_rare_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    department = await seed(store)
    for words in (*WORDS, "hành", "REFUND", "nothing"):
        sparse = await pages(store, department, words)
        # Every word is now "in more chats than the limit": the other way of looking.
        monkeypatch.setattr(history, "COUNT_LIMIT", 0)
        dense = await pages(store, department, words)
        monkeypatch.undo()
        assert dense == sparse, words
        if words != "nothing":
            assert sparse[0], words


# Cells as customers and agents write them: commas, quotes, line breaks, Vietnamese,
# and the starts a spreadsheet would run as a formula.
NAMES = (
    "Lan",
    'Trần, Thị "Bé"',
    "Nguyễn Ánh\nline two",
    '=HYPERLINK("http://x")',
    "+84 90 123",
    "-1",
    "@me",
    "\tTab",
    "\rReturn",
    "a=b",
    "",
)
# Opened at a fraction a hair below the next second (cut, not rounded), in another zone.
TIMES = (
    datetime(2026, 3, 1, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=7))),
    datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC),
    datetime(2026, 3, 2, 9, 30, 15, 500_000, tzinfo=UTC),
)
TAG_SETS = ((), ("billing",), ("refund", "billing", "giao"), ("=sum",), ("@vip",))


def old_csv(chats: list[dict[str, Any]]) -> bytes:
    """The export as the console wrote it before the database formatted the cells: a
    row object per chat, each cell formatted in Python, one ``writerow`` per row."""

    def cell(value: str) -> str:
        return f"'{value}" if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["reference", "customer", "channel", "agent", "opened", "closed", "tags"])
    for chat in sorted(chats, key=lambda c: (c["closed"], c["id"]), reverse=True):
        writer.writerow(
            [
                chat["ref"],
                cell(chat["customer"]),
                chat["channel"],
                cell(chat["owner"] or ""),
                chat["opened"].astimezone(UTC).isoformat(timespec="seconds"),
                chat["closed"].astimezone(UTC).isoformat(timespec="seconds"),
                cell(" ".join(sorted(chat["tags"]))),
            ]
        )
    return out.getvalue().encode()


async def seed_export(store: Store, chats: int = 40) -> tuple[int, list[dict[str, Any]]]:
    """Closed chats with every kind of cell; returns the department and what was written."""
    written = []
    async with store.unit() as tx:

        async def row_id(model: Any, **values: Any) -> int:
            return (
                await tx.execute(insert(model).values(**values).returning(model.id))
            ).scalar_one()

        department = await row_id(
            Department, key="e", name="E", channel_id="19:e", room_reference={}, created_at=NOW
        )
        agents = [None] + [
            await row_id(Agent, teams_id=f"29:{n}", name=name, created_at=NOW)
            for n, name in enumerate(NAMES)
        ]
        tags = {
            name: await row_id(Tag, department_id=department, name=name, created_at=NOW)
            for name in sorted({name for names in TAG_SETS for name in names})
        }
        for n in range(chats):
            customer = NAMES[n % len(NAMES)]
            channel = ("webchat", "zalo")[n % 2]
            owner = agents[n % len(agents)]
            opened = TIMES[n % len(TIMES)] + timedelta(hours=n)
            closed = opened + timedelta(minutes=(5, 5, 30)[n % 3], microseconds=999_999)
            customer_id = await row_id(
                Customer,
                channel_id=channel,
                user_id=f"e-{n}",
                name=customer,
                locale="vi",
                reference={},
                created_at=NOW,
            )
            chat = await row_id(
                Chat,
                public_id=f"ex-{n}",
                customer_id=customer_id,
                department_id=department,
                state=ChatState.CLOSED,
                owner_id=owner,
                created_at=opened,
                closed_at=closed,
            )
            chat_tags = TAG_SETS[n % len(TAG_SETS)]
            for name in chat_tags:
                await row_id(ChatTag, chat_id=chat, tag_id=tags[name], created_at=NOW)
            written.append(
                {
                    "id": chat,
                    "ref": f"ex-{n}",
                    "customer": customer,
                    "channel": channel,
                    "owner": None if owner is None else NAMES[owner - agents[1]],
                    "opened": opened,
                    "closed": closed,
                    "tags": chat_tags,
                }
            )
    return department, written


async def test_the_csv_is_the_old_one_byte_for_byte(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cells the database formats (times in UTC cut at the second, tags joined,
    formulas quoted) and the batches written whole give the bytes the per-row export
    gave, with a batch boundary inside the export."""
    department, written = await seed_export(store)
    monkeypatch.setattr(views, "CSV_BATCH", 7)
    async with store.reading() as tx:
        chunks = [chunk async for chunk in csv_chunks(tx, department, HistoryFilter())]
    assert len(chunks) == 6
    assert b"".join(chunks) == old_csv(written)
    # Nothing found: the header alone, as before.
    async with store.reading() as tx:
        nothing = HistoryFilter(customer="nobody at all")
        chunks = [chunk async for chunk in csv_chunks(tx, department, nothing)]
    assert b"".join(chunks) == old_csv([])
