"""The console's history: closed chats of one department, searched and paged.

A read over the caller's unit; the caller has checked that the supervisor supervises
the department, so the search itself only ever names that department's chats.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, literal_column, or_, select
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
    tx: Unit,
    department_id: int,
    search: HistoryFilter,
    words: str = "sparse",
    named: list[int] | None = None,
) -> list[Any]:
    """The WHERE of a history search. The state is written as a literal so that the
    partial index of closed chats serves it on both engines (a bound parameter would
    not prove the index's condition to SQLite, nor to PostgreSQL's generic plans).

    ``words``: how a word is looked for on SQLite: ``sparse`` (the matching chats'
    ids, sorted: few matches), ``dense`` (each chat walked by close time probes the
    matching lines: many matches), ``joined`` (the caller joins the lines itself).
    ``named``: the customers the search names, looked up already (``_named``)."""
    conditions: list[Any] = [
        Chat.department_id == department_id,
        Chat.state == CLOSED,
    ]
    if search.customer:
        # By name, e-mail or phone, with the same person's chats from other channels.
        customers = named if named is not None else customers_named(tx.dialect, search.customer)
        conditions.append(Chat.customer_id.in_(customers))
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
    named = await _named(tx, search)
    total = await _count(tx, department_id, search, named)
    rows = await _page_rows(tx, department_id, search, total > COUNT_LIMIT, page, per_page, named)
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


# More customers named than this: the page and its count each look them up in their own
# statement instead of from a list.
NAMED_MOST = 1000


async def _named(tx: Unit, search: HistoryFilter) -> list[int] | None:
    """The customers the search names, looked up once for the page and its count (None:
    no name searched, or more than ``NAMED_MOST``). On PostgreSQL each look-up is a
    trigram scan of the names whose common trigrams ("cus", "tom"...) are in every name:
    7 ms at 100,000 customers, which the page and the count each paid."""
    if not search.customer:
        return None
    customers = customers_named(tx.dialect, search.customer).subquery()
    found = await tx.session.scalars(select(*customers.c).limit(NAMED_MOST + 1))
    named = list(found)
    return named if len(named) <= NAMED_MOST else None


# SQLite, a word in more chats than the count's limit: the page is first looked for among
# this many times the chats it needs, newest first, so that FTS5 lists only those chats'
# matching lines (a year's "warranty" is 33,000 lines); a window that holds too few
# matches, or one past ``RECENT_MOST``, falls back to the whole walk.
RECENT_WINDOW = 8
RECENT_MOST = 2_000
_NEWEST = (Chat.closed_at.desc(), Chat.id.desc())


async def _page_rows(
    tx: Unit,
    department_id: int,
    search: HistoryFilter,
    dense: bool,
    page: int,
    per_page: int,
    named: list[int] | None = None,
) -> list[Any]:
    """One page of rows and one past it. SQLite: a word in more chats than the count's
    limit is looked for chat by chat along the walk by close time, which meets a page of
    them soon (first within a window of recent chats); a rarer one by the list of its
    chats, sorted. PostgreSQL: the planner chooses."""
    offset, wanted = (page - 1) * per_page, per_page + 1

    async def rows_where(conditions: list[Any]) -> list[Any]:
        statement = chats_with_people(Chat.id, *_SHOWN).where(and_(*conditions))
        found = await tx.session.execute(statement.order_by(*_NEWEST).offset(offset).limit(wanted))
        return list(found.all())

    window = RECENT_WINDOW * (offset + wanted)
    if dense and indexed(tx.dialect, search.text) and window <= RECENT_MOST:
        others = _conditions(tx, department_id, search, "joined", named)
        recent = (
            select(Chat.id)
            .outerjoin(OWNER, OWNER.c.id == Chat.owner_id)
            .where(*others)
            .order_by(*_NEWEST)
            .limit(window)
        )
        # Every line of the window's chats has an id from here on.
        first_line = select(func.min(Message.id)).where(Message.chat_id.in_(recent))
        says = chat_says(search.text, Chat.id, first_line.scalar_subquery())
        rows = await rows_where([*others, Chat.id.in_(recent), says])
        if len(rows) == wanted:
            return rows
    words = "dense" if dense else "sparse"
    return await rows_where(_conditions(tx, department_id, search, words, named))


async def _count(
    tx: Unit, department_id: int, search: HistoryFilter, named: list[int] | None = None
) -> int:
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
            .where(match, *_conditions(tx, department_id, search, "joined", named))
            .limit(COUNT_LIMIT + 1)
        )
    else:
        counted = (
            select(Chat.id)
            .outerjoin(OWNER, OWNER.c.id == Chat.owner_id)
            .where(and_(*_conditions(tx, department_id, search, "sparse", named)))
            .limit(COUNT_LIMIT + 1)
        )
    found = await tx.session.scalar(select(func.count()).select_from(counted.subquery()))
    return int(found or 0)


def _tag_names(dialect: str) -> Any:
    """A chat's tag names, sorted and joined by spaces, as a correlated subquery."""
    if dialect == "postgresql":
        joined = func.string_agg(Tag.name, aggregate_order_by(literal_column("' '"), Tag.name))
        return (
            select(joined)
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
    return select(func.group_concat(names.c.name, " ")).scalar_subquery()


async def history_rows(
    tx: Unit, department_id: int, search: HistoryFilter, limit: int, batch: int = 2000
) -> AsyncIterator[list[HistoryRow]]:
    """The search's closed chats, newest first, with their tags joined in the same
    statement, in batches as the database streams them (the CSV export): no list of
    ids, and no more than one batch in memory."""
    statement = (
        chats_with_people(*_SHOWN, _tag_names(tx.dialect))
        .where(and_(*_conditions(tx, department_id, search)))
        .order_by(Chat.closed_at.desc(), Chat.id.desc())
        .limit(limit)
    )
    result = await tx.conn.stream(statement)
    async for rows in result.partitions(batch):
        yield [
            HistoryRow(ref, name, channel, who, opened, closed, (tags,) if tags else ())
            for ref, name, channel, who, opened, closed, tags in rows
        ]
