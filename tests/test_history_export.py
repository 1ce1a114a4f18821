"""The console's CSV export writes the same bytes however it is written: PostgreSQL
formats and writes the rows itself (``history_copied``), elsewhere they are formatted in
Python; both must match the export's own formatting (``_stamp``, ``_cell``, channels by
name, csv.writer's quoting and line ends) on data that trips one or the other: zones
across a change of daylight saving time and with half-hour offsets, names and tags a
spreadsheet would run as a formula, commas, quotes and line breaks in names, chats with
no owner, no tag or several."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from store import Store
from store.channels import facts as channel_facts
from store.history import HistoryFilter, history_copied, history_rows
from store.models import Agent, Chat, ChatState, ChatTag, Customer, Department, Tag
from web.console import views

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# New York leaves daylight saving time at 06:00 UTC on 1 November 2026 (01:30 happens
# twice) and enters it at 07:00 UTC on 8 March; St John's is half an hour off the hour,
# Kathmandu three quarters.
ZONES = ("America/New_York", "America/St_Johns", "Asia/Kathmandu", "UTC")
CUSTOMERS = (
    ("webchat", 'Lan, "Hoa"\nsecond line'),
    ("zalo", '=HYPERLINK("http://x","y")'),
    ("facebook", "+84 90 123"),
    ("webchat", "-minus"),
    ("msteams", "@at"),
    ("webchat", "\ttab"),
    ("webchat", "\rreturn, and more"),
    ("someChannel", "Zoë Ünïcode"),
    ("webchat", ""),
)
AGENTS = (None, "Bình", '=cmd|" /C calc"!A0', 'Mai, the "lead"', "-dash")
# Tags whose order is the same in every collation (the statement sorts them).
TAGS = ((), ("billing",), ("=a1", "=b2"), ("billing", "refund"), ("@evil",), ("-x",))
MOMENTS = (
    datetime(2026, 11, 1, 5, 30, 0, 999_999, tzinfo=UTC),  # 01:30 EDT
    datetime(2026, 11, 1, 6, 30, 0, 500_000, tzinfo=UTC),  # 01:30 EST
    datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC),  # the last second of EST
    datetime(2026, 3, 8, 7, 0, 0, tzinfo=UTC),  # the first of EDT
    datetime(2026, 7, 4, 23, 59, 59, 1, tzinfo=UTC),
    datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC),
)


@dataclass(frozen=True)
class Seeded:
    ref: str
    customer: str
    channel: str
    owner: str | None
    opened: datetime
    closed: datetime
    tags: tuple[str, ...]
    id: int


async def seed(store: Store) -> tuple[int, list[Seeded]]:
    """Closed chats of one department, each a mix of the tricky values above."""
    seeded = []
    async with store.unit() as tx:

        async def new(model: type, values: dict) -> int:
            made = await tx.execute(insert(model).values(**values).returning(model.id))
            return int(made.scalar_one())

        department = await new(
            Department,
            {
                "key": "d",
                "name": "D",
                "channel_id": "19:d",
                "room_reference": {},
                "created_at": NOW,
            },
        )
        agents = {
            name: await new(Agent, {"teams_id": f"a{n}", "name": name, "created_at": NOW})
            for n, name in enumerate(AGENTS)
            if name is not None
        }
        names = {name for tags in TAGS for name in tags}
        tags = {
            name: await new(Tag, {"department_id": department, "name": name, "created_at": NOW})
            for name in sorted(names)
        }
        for n in range(len(CUSTOMERS) * len(MOMENTS)):
            channel, name = CUSTOMERS[n % len(CUSTOMERS)]
            customer = await new(
                Customer,
                {
                    "channel_id": channel,
                    "user_id": f"u{n}",
                    "name": name,
                    "locale": "vi",
                    "reference": {},
                    "created_at": NOW,
                },
            )
            owner = AGENTS[n % len(AGENTS)]
            opened = MOMENTS[n % len(MOMENTS)] + timedelta(days=n // len(MOMENTS))
            # Every seventh chat closes when the one before it did: ordered by id then.
            closed = seeded[-1].closed if n % 7 == 6 else opened + timedelta(minutes=5 + n)
            chat = await new(
                Chat,
                {
                    "public_id": f"x-{n}",
                    "customer_id": customer,
                    "department_id": department,
                    "owner_id": agents[owner] if owner else None,
                    "state": ChatState.CLOSED,
                    "created_at": opened,
                    "closed_at": closed,
                },
            )
            labels = TAGS[n % len(TAGS)]
            for label in labels:
                await tx.execute(
                    insert(ChatTag).values(chat_id=chat, tag_id=tags[label], created_at=NOW)
                )
            seeded.append(Seeded(f"x-{n}", name, channel, owner, opened, closed, labels, chat))
    return department, seeded


def formatted(chats: list[Seeded], tz: ZoneInfo) -> bytes:
    """The export as the console formats it in Python: newest first, each cell as
    ``_stamp`` and ``_cell`` make it, through csv.writer."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(views.CSV_HEADER)
    for chat in sorted(chats, key=lambda c: (c.closed, c.id), reverse=True):
        writer.writerow(
            [
                chat.ref,
                views._cell(chat.customer),
                channel_facts(chat.channel).name,
                views._cell(chat.owner or ""),
                views._stamp(chat.opened, tz),
                views._stamp(chat.closed, tz),
                views._cell(" ".join(chat.tags)),
            ]
        )
    return out.getvalue().encode()


async def exported(store: Store, department: int, search: HistoryFilter, tz: ZoneInfo) -> bytes:
    written: list[bytes] = []

    async def write(chunk: bytes) -> None:
        written.append(chunk)

    async with store.reading() as tx:
        await views.write_history_csv(tx, department, search, tz, write)
    return b"".join(written)


@pytest.mark.parametrize("python", [False, True], ids=["as-written", "formatted-in-python"])
async def test_the_export_writes_what_the_consoles_formatting_writes(
    store: Store, python: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if python:
        # Where PostgreSQL does not write the rows (on SQLite it never does).
        async def not_copied(*_: object) -> bool:
            return False

        monkeypatch.setattr(views, "history_copied", not_copied)
    department, chats = await seed(store)
    for name in ZONES:
        tz = ZoneInfo(name)
        assert await exported(store, department, HistoryFilter(), tz) == formatted(chats, tz)
    # A search narrows it: a tag (any case), a range of opening times.
    since, until = datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
    search = HistoryFilter(tag="BILLING", since=since, until=until)
    kept = [c for c in chats if "billing" in c.tags and since <= c.opened < until]
    assert kept
    tz = ZoneInfo("America/New_York")
    assert await exported(store, department, search, tz) == formatted(kept, tz)
    # A range alone: PostgreSQL's statement takes its moments written into it.
    search = HistoryFilter(since=since, until=until)
    kept = [c for c in chats if since <= c.opened < until]
    assert await exported(store, department, search, tz) == formatted(kept, tz)


async def test_the_export_stops_at_its_limit(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "CSV_LIMIT", 5)
    department, chats = await seed(store)
    newest = sorted(chats, key=lambda c: (c.closed, c.id), reverse=True)[:5]
    tz = ZoneInfo("Asia/Kathmandu")
    assert await exported(store, department, HistoryFilter(), tz) == formatted(newest, tz)


async def test_a_zone_the_database_does_not_know_leaves_the_rows_to_python(store: Store) -> None:
    """PostgreSQL's zone database may lack a zone Python's has (an older one): it then
    writes nothing, and the same transaction reads the rows for Python to format."""
    department, _ = await seed(store)
    written: list[bytes] = []

    async def write(chunk: bytes) -> None:
        written.append(chunk)

    async with store.reading() as tx:
        unknown = await history_copied(
            tx, department, HistoryFilter(), 10, "Nowhere/Atlantis", views.FORMULA_START, write
        )
        rows = [
            row
            async for batch in history_rows(tx, department, HistoryFilter(), 10)
            for row in batch
        ]
    assert not unknown and not written
    assert len(rows) == 10
