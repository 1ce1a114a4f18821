"""The console's history: closed chats of one department, searched and paged.

A read over the caller's unit; the caller has checked that the supervisor supervises
the department, so the search itself only ever names that department's chats.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, exists, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from store.console import chat_labels
from store.matches import customers_named
from store.models import Agent, Chat, ChatTag, Customer, Message, Participant, Tag
from store.search import chat_says, chats_saying, indexed, lines_saying
from store.unit import Unit
from store.views import OWNER, chats_with_people

# What a history row shows of a chat (its tags are read apart).
_SHOWN = (
    Chat.public_id,
    Customer.name,
    Customer.channel_id,
    OWNER.c.name,
    Chat.created_at,
    Chat.closed_at,
)


@dataclass(frozen=True)
class HistoryFilter:
    """The history search; empty fields do not filter."""

    customer: str = ""
    agent: str = ""
    tag: str = ""
    text: str = ""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class HistoryRow:
    ref: str
    customer: str
    channel: str
    owner: str | None
    created_at: datetime
    closed_at: datetime | None
    tags: tuple[str, ...]


# Counts stop here: "1000+" says as much to a reader as the exact figure, and counting a
# year of matches would cost more than the page itself.
COUNT_LIMIT = 1000


@dataclass(frozen=True)
class HistoryPage:
    rows: tuple[HistoryRow, ...]
    total: int
    page: int
    per_page: int
    # More matched than ``COUNT_LIMIT``: ``total`` is that limit, and more pages may follow.
    capped: bool = False
    more: bool = False

    @property
    def pages(self) -> int:
        counted = max(1, -(-self.total // self.per_page))
        return max(counted, self.page + 1 if self.more else self.page)

    @property
    def shown_total(self) -> str:
        return f"{self.total}+" if self.capped else str(self.total)

    @property
    def shown_pages(self) -> str:
        return f"{self.pages}+" if self.capped else str(self.pages)

    @property
    def has_next(self) -> bool:
        return self.more or self.page < self.pages


CLOSED = literal_column("'closed'")


def _conditions(
    tx: Unit, department_id: int, search: HistoryFilter, words: str = "sparse"
) -> list[Any]:
    """The WHERE of a history search. The state is written as a literal so that the
    partial index of closed chats serves it on both engines (a bound parameter would
    not prove the index's condition to SQLite, nor to PostgreSQL's generic plans).

    ``words``: how a word is looked for on SQLite: ``sparse`` (the matching chats'
    ids, sorted: few matches), ``dense`` (each chat walked by close time probes the
    matching lines: many matches), ``joined`` (the caller joins the lines itself)."""
    conditions: list[Any] = [
        Chat.department_id == department_id,
        Chat.state == CLOSED,
    ]
    if search.customer:
        # By name, e-mail or phone, with the same person's chats from other channels.
        conditions.append(Chat.customer_id.in_(customers_named(tx.dialect, search.customer)))
    if search.agent:
        named = func.lower(Agent.name).contains(search.agent.lower())
        conditions.append(
            or_(
                func.lower(OWNER.c.name).contains(search.agent.lower()),
                exists()
                .where(Participant.chat_id == Chat.id)
                .where(Agent.id == Participant.agent_id, named),
            )
        )
    if search.tag:
        conditions.append(
            exists()
            .where(ChatTag.chat_id == Chat.id)
            .where(Tag.id == ChatTag.tag_id, func.lower(Tag.name) == search.tag.lower())
        )
    if search.text and indexed(tx.dialect, search.text) and words == "dense":
        conditions.append(chat_says(search.text, Chat.id))
    elif search.text and words != "joined":
        conditions.append(Chat.id.in_(chats_saying(tx.dialect, search.text)))
    if search.since is not None:
        conditions.append(Chat.created_at >= search.since)
    if search.until is not None:
        conditions.append(Chat.created_at < search.until)
    return conditions


async def closed_chats(
    tx: Unit, department_id: int, search: HistoryFilter, page: int, per_page: int = 25
) -> HistoryPage:
    """Closed chats of the department matching the search, newest first, one page.

    The page walks the partial index of closed chats by close time and stops after one
    row past the page; the count stops at ``COUNT_LIMIT``."""
    page = max(1, page)
    session = tx.session
    total = await _count(tx, department_id, search)
    # SQLite: a word in more chats than the count's limit is looked for chat by chat
    # along the walk by close time, which meets a page of them soon; a rarer one by the
    # list of its chats, sorted.
    dense = total > COUNT_LIMIT
    conditions = _conditions(tx, department_id, search, "dense" if dense else "sparse")
    rows = (
        await session.execute(
            chats_with_people(Chat.id, *_SHOWN)
            .where(and_(*conditions))
            .order_by(Chat.closed_at.desc(), Chat.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        )
    ).all()
    more, rows = len(rows) > per_page, rows[:per_page]
    _, tags = await chat_labels(session, [row[0] for row in rows])
    return HistoryPage(
        rows=tuple(
            HistoryRow(row[1], row[2], row[3], row[4], row[5], row[6], tuple(tags[row[0]]))
            for row in rows
        ),
        total=min(total, COUNT_LIMIT),
        page=page,
        per_page=per_page,
        capped=total > COUNT_LIMIT,
        more=more,
    )


async def _count(tx: Unit, department_id: int, search: HistoryFilter) -> int:
    """The matches, up to ``COUNT_LIMIT + 1``. On SQLite a word's lines are joined and
    their distinct chats counted as FTS5 streams them: the count stops at its limit."""
    if search.text and indexed(tx.dialect, search.text):
        lines, on, match = lines_saying(search.text)
        counted = (
            select(Chat.id)
            .distinct()
            .select_from(lines)
            .join(Message, on)
            .join(Chat, Chat.id == Message.chat_id)
            .outerjoin(OWNER, OWNER.c.id == Chat.owner_id)
            .where(match, *_conditions(tx, department_id, search, "joined"))
            .limit(COUNT_LIMIT + 1)
        )
    else:
        counted = (
            select(Chat.id)
            .outerjoin(OWNER, OWNER.c.id == Chat.owner_id)
            .where(and_(*_conditions(tx, department_id, search, "sparse")))
            .limit(COUNT_LIMIT + 1)
        )
    found = await tx.session.scalar(select(func.count()).select_from(counted.subquery()))
    return int(found or 0)


def _tag_names(dialect: str) -> Any:
    """A chat's tag names, sorted and joined by spaces, as a correlated subquery, a
    formula quoted (inside: both engines compute the repeated aggregate once)."""
    if dialect == "postgresql":
        joined = func.string_agg(Tag.name, aggregate_order_by(literal_column("' '"), Tag.name))
        return (
            select(_cell(joined))
            .join(ChatTag, ChatTag.tag_id == Tag.id)
            .where(ChatTag.chat_id == Chat.id)
            .scalar_subquery()
        )
    names = (
        select(Tag.name.label("name"))
        .join(ChatTag, ChatTag.tag_id == Tag.id)
        .where(ChatTag.chat_id == Chat.id)
        .order_by(Tag.name)
        .correlate(Chat)  # two levels down: the row of the outer statement
        .subquery()
    )
    joined = func.group_concat(names.c.name, " ", type_=String())
    return select(_cell(joined)).scalar_subquery()


# Cells a spreadsheet would run as a formula (CSV injection) get a quote in front.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A time as the CSV writes it: UTC to the second, the fraction cut (not rounded).
_PG_TIME = 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'


def _cell(value: Any) -> Any:
    """``value``, with a quote in front where it starts as a formula (NULL stays NULL)."""
    quoted = literal_column("''''").op("||", return_type=String())(value)
    return case((func.substr(value, 1, 1).in_(FORMULA_START), quoted), else_=value)


def _when(dialect: str, column: Any) -> Any:
    """``column`` as ISO 8601 text in UTC to the second, the fraction cut, whatever
    the session's zone. SQLite stores the UTC time as text ``YYYY-MM-DD
    HH:MM:SS.ffffff``: cut by ``substr``, no date parsed per row."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), _PG_TIME, type_=String())
    day = func.substr(column, 1, 10, type_=String())
    clock = func.substr(column, 12, 8, type_=String())
    return day.op("||", return_type=String())("T" + clock + "+00:00")


async def history_table(
    tx: Unit, department_id: int, search: HistoryFilter, limit: int, batch: int = 2000
) -> AsyncIterator[Sequence[Sequence[str | None]]]:
    """The search's closed chats as the CSV's cells, newest first, in batches as the
    database streams them: reference, customer, channel, agent, opened, closed, tags.

    The database formats every cell (times, the tags joined, formulas quoted), so the
    rows go from the driver to ``csv.writer.writerows`` as they are: at 10,000 rows a
    Python object and formatting per row cost more than the statement. No list of
    ids, and no more than one batch in memory; None is an empty cell."""
    statement = (
        chats_with_people(
            Chat.public_id,
            _cell(Customer.name),
            Customer.channel_id,
            _cell(OWNER.c.name),
            _when(tx.dialect, Chat.created_at),
            _when(tx.dialect, Chat.closed_at),
            _tag_names(tx.dialect),
        )
        .where(and_(*_conditions(tx, department_id, search)))
        .order_by(Chat.closed_at.desc(), Chat.id.desc())
        .limit(limit)
    )
    result = await tx.conn.stream(statement)
    async for rows in result.partitions(batch):
        yield rows
