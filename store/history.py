"""The console's history: closed chats of one department, searched and paged.

A read over the caller's unit; the caller has checked that the supervisor supervises
the department, so the search itself only ever names that department's chats.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import DBAPIError

from store.channels import CHANNELS
from store.console import chat_labels
from store.engine import driver_statement
from store.matches import customers_named
from store.models import Agent, Chat, ChatTag, Customer, Message, Participant, Tag
from store.search import chat_mentions, chat_says, chats_saying, indexed, lines_saying
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


def _newest(conditions: list[Any], count: int) -> Any:
    """The ids of the newest ``count`` closed chats meeting ``conditions`` (a walk of
    the partial index of closed chats by close time), for a window of recent chats.
    The count is written into the SQL: the planner's choice inside a window depends on
    its size, which a generic plan of a bound parameter would not know."""
    return (
        select(Chat.id)
        .outerjoin(OWNER, OWNER.c.id == Chat.owner_id)
        .where(*conditions)
        .order_by(*_NEWEST)
        .limit(_said(count))
    )


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
        recent = _newest(others, window)
        # Every line of the window's chats has an id from here on.
        first_line = select(func.min(Message.id)).where(Message.chat_id.in_(recent))
        says = chat_says(search.text, Chat.id, first_line.scalar_subquery())
        rows = await rows_where([*others, Chat.id.in_(recent), says])
        if len(rows) == wanted:
            return rows
    words = "dense" if dense else "sparse"
    return await rows_where(_conditions(tx, department_id, search, words, named))


# PostgreSQL, a word's count: the newest ``PROBE_CHATS`` chats are probed first; a word
# in ``PROBE_DENSE`` of them or more is counted among the newest ``COUNT_WINDOW`` chats,
# chat by chat, which meets the count's limit there when the word is that common.
PROBE_CHATS = 50
PROBE_DENSE = 15
COUNT_WINDOW = 4 * (COUNT_LIMIT + 1)


async def _count_recent(
    tx: Unit, department_id: int, search: HistoryFilter, named: list[int] | None
) -> int:
    """PostgreSQL, a word: its chats among the newest ``COUNT_WINDOW`` (up to
    ``COUNT_LIMIT + 1``) if the probe finds it common, else -1, in one statement.

    Why: a word in most chats ("warranty") is in a third of a million lines of a year.
    Counting 1,001 of its chats by the lines' index rechecks all of them; PostgreSQL
    then prefers a merge join that reads every line of 1,001 chats (22 ms at 200,000
    chats). Walking the newest chats and stopping at each one's first matching line
    costs 8 ms. A rare word must not walk (a word in no chat would read the whole
    year): the probe reads at most ``PROBE_CHATS`` chats' lines (about 1 ms), and the
    window's count runs only when the probe says so (PostgreSQL evaluates a CASE's
    subquery only when the CASE reaches it). The window bounds a walk the probe
    misjudged; a window short of the limit leaves the count to ``_count``'s statement."""
    others = _conditions(tx, department_id, search, "joined", named)
    probed = _newest(others, PROBE_CHATS).subquery()
    probe = (
        select(func.count())
        .select_from(probed)
        .where(chat_mentions(search.text, probed.c.id, walked=True))
    )
    window = _newest(others, COUNT_WINDOW).subquery()
    found = (
        select(window.c.id)
        .where(chat_mentions(search.text, window.c.id))
        .limit(_said(COUNT_LIMIT + 1))
        .subquery()
    )
    counted = select(func.count()).select_from(found)
    statement = select(
        case(
            (probe.scalar_subquery() >= _said(PROBE_DENSE), counted.scalar_subquery()),
            else_=_said(-1),
        )
    )
    return int(await tx.session.scalar(statement) or 0)


async def _count(
    tx: Unit, department_id: int, search: HistoryFilter, named: list[int] | None = None
) -> int:
    """The matches, up to ``COUNT_LIMIT + 1``. On SQLite a word's lines are joined and
    their distinct chats counted as FTS5 streams them: the count stops at its limit.
    On PostgreSQL a common word is counted among the newest chats (``_count_recent``)."""
    if search.text and tx.dialect == "postgresql":
        recent = await _count_recent(tx, department_id, search, named)
        if recent > COUNT_LIMIT:
            return recent
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


# The export's cells as PostgreSQL writes them (``history_copied``): a time in the
# session's zone with its offset, to the second, as ``datetime.isoformat`` writes it.
_STAMP = 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'


def _said(value: str | int) -> Any:
    """One of the export's own constants written into its SQL, not sent as a parameter:
    asyncpg's COPY takes no parameters, so each one left costs a round trip to quote
    (``history_copied``). Never a value from a request."""
    if isinstance(value, int):
        return literal_column(str(value), Integer)
    return literal_column("'" + value.replace("'", "''") + "'", String)


def _channel_name(channel_id: Any) -> Any:
    """``store.channels.facts(channel_id).name`` in SQL: the known channels by their
    name, another one by its id capitalised, an empty one as "-"."""
    lowered = func.lower(channel_id)
    capitalised = func.upper(func.left(channel_id, _said(1))).concat(
        func.lower(func.substr(channel_id, _said(2)))
    )
    return case(
        {_said(key): _said(known.name) for key, known in CHANNELS.items()},
        value=lowered,
        else_=func.coalesce(func.nullif(capitalised, _said("")), _said("-")),
    )


def _shown_cell(value: Any, formula_start: tuple[str, ...]) -> Any:
    """A customer's or an agent's words as a CSV cell: a quote in front of what a
    spreadsheet would take for a formula; NULL for an empty one (PostgreSQL's CSV
    writes an empty string as ``""``, Python's as nothing; NULL as nothing)."""
    present = func.nullif(value, _said(""))
    formula = func.strpos(_said("".join(formula_start)), func.left(present, _said(1))) > _said(0)
    return case(
        (formula, _said("'").concat(present)),
        else_=present,
    )


async def history_copied(
    tx: Unit,
    department_id: int,
    search: HistoryFilter,
    limit: int,
    zone_key: str,
    formula_start: tuple[str, ...],
    write: Callable[[bytes], Awaitable[None]],
) -> bool:
    """PostgreSQL writes the export's rows itself (``COPY ... TO STDOUT`` as CSV), each
    cell formatted by the statement as the console's CSV writes it in Python, and
    ``write`` gets them as they come: no Python object per row. The times are in the
    department's zone (``zone_key``, set for this transaction only), channels by name,
    a quote in front of a formula (``formula_start``), lines ending in CRLF as Python's
    CSV writer ends them.

    False, having written nothing, where it cannot: SQLite, or a zone PostgreSQL's own
    zone database does not know; the caller writes the rows from ``history_rows``."""
    if tx.dialect != "postgresql":
        return False
    try:
        async with tx.conn.begin_nested():
            await tx.conn.execute(select(func.set_config("TimeZone", zone_key, True)))
    except DBAPIError:
        return False
    query, args = driver_statement(
        tx.conn.dialect, _copied_rows(tx, department_id, search, limit, formula_start)
    )
    if all(_plain(value) for value in args):
        query, args = re.sub(r"\$(\d+)\b", lambda n: _plain(args[int(n[1]) - 1]), query), []
    raw = (await tx.conn.get_raw_connection()).driver_connection
    assert raw is not None
    ends = _CrlfLines(write)
    await raw.copy_from_query(query, *args, output=ends.write, format="csv")
    return True


def _plain(value: object) -> str:
    """A parameter of the export written as SQL where nothing in it needs quoting (a
    number, a moment with its zone), else "": asyncpg quotes the rest, a round trip to
    prepare the statement and one to have PostgreSQL quote them (a search's words)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return f"'{value.isoformat()}'"
    return ""


def _copied_rows(
    tx: Unit, department_id: int, search: HistoryFilter, limit: int, formula_start: tuple[str, ...]
) -> Any:
    """The export's rows, each cell as the CSV shows it (``history_copied``).

    The month's chats are picked first, by themselves (newest first, up to ``limit``);
    then each one's customer by its primary key, and its tags by the index of
    ``chat_tags`` and the primary key of ``tags``, one chat at a time (``OFFSET 0`` keeps
    PostgreSQL from flattening those into joins: it would hash all the customers, and
    build a hash of the tags for every chat). Nested loops keep the picked order: no
    second sort."""
    picked = (
        select(
            Chat.id,
            Chat.public_id,
            Chat.customer_id,
            OWNER.c.name.label("owner"),
            Chat.created_at,
            Chat.closed_at,
        )
        .outerjoin(OWNER, OWNER.c.id == Chat.owner_id)
        .where(and_(*_conditions(tx, department_id, search)))
        .order_by(Chat.closed_at.desc(), Chat.id.desc())
        .limit(limit)
        .subquery("picked")
    )
    customer = (
        select(Customer.name, Customer.channel_id)
        .where(Customer.id == picked.c.customer_id)
        .offset(_said(0))
        .lateral("customer")
    )
    tag = select(Tag.name).where(Tag.id == ChatTag.tag_id).offset(_said(0)).lateral("tag")
    tags = (
        select(
            func.string_agg(
                tag.c.name, aggregate_order_by(literal_column("' '"), tag.c.name)
            ).label("names")
        )
        .select_from(ChatTag)
        .join(tag, true())
        .where(ChatTag.chat_id == picked.c.id)
        .lateral("tags")
    )
    return (
        select(
            picked.c.public_id,
            _shown_cell(customer.c.name, formula_start),
            _channel_name(customer.c.channel_id),
            _shown_cell(picked.c.owner, formula_start),
            func.to_char(picked.c.created_at, _said(_STAMP)),
            func.to_char(picked.c.closed_at, _said(_STAMP)),
            _shown_cell(tags.c.names, formula_start),
        )
        .select_from(picked)
        .join(customer, true())
        .join(tags, true())
        .order_by(picked.c.closed_at.desc(), picked.c.id.desc())
    )


class _CrlfLines:
    """PostgreSQL's CSV rows end in LF; Python's CSV writer (the export's header, and
    the rows where the database does not write them) ends them in CRLF. A line feed
    inside a quoted cell stays as it is: what is between the chunk's double quotes is
    inside a cell when an odd number of them came before (a doubled quote inside a
    cell counts twice, so it keeps the count's parity)."""

    def __init__(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        self._write = write
        self._quoted = False

    async def write(self, chunk: bytes) -> None:
        pieces = chunk.split(b'"')
        outside = 1 if self._quoted else 0
        for i in range(outside, len(pieces), 2):
            pieces[i] = pieces[i].replace(b"\n", b"\r\n")
        self._quoted = (len(pieces) - 1 + self._quoted) % 2 == 1
        await self._write(b'"'.join(pieces))
