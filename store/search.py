"""Searching words in a year of transcripts and names, with an index on both engines.

PostgreSQL: trigram GIN indexes (``pg_trgm``) on ``messages.text`` and
``customers.name`` serve ``ILIKE '%word%'``, the same substring match the console always
offered, without reading every line. SQLite: an FTS5 table with the trigram tokenizer,
``messages_search``, kept equal to ``messages`` by triggers, answers a quoted phrase as a
substring (case folded). Both are made by migration 0011 only (they are no part of the
models: the comparison of models and database leaves them out, see ``SEARCH_OBJECTS``).

Honest limits: a trigram index cannot serve a word of fewer than three characters; such
a search reads the lines (PostgreSQL) or falls back to ``LIKE`` (SQLite). On SQLite a
customer's name is matched with ``LIKE`` over the customers table (tens of thousands of
short rows, a few milliseconds), not through an index.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import column, exists, func, literal_column, select, table

from store.models import Message

# Names of the search structures migration 0011 makes beside the models' tables.
MESSAGES_SEARCH = "messages_search"
SEARCH_OBJECTS = (MESSAGES_SEARCH, "ix_messages_text_trgm", "ix_customers_name_trgm")
# Shortest word a trigram index can serve.
TRIGRAM = 3



def outside_models(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's ``include_object``: False for the search structures (and FTS5's shadow
    tables), which migration 0011 keeps beside the models."""
    return not (name or "").startswith(SEARCH_OBJECTS)


_SEARCH = table(MESSAGES_SEARCH, column("rowid"))


def _like_pattern(words: str) -> str:
    """``%words%`` with LIKE's own characters taken literally (escape: ``/``)."""
    escaped = words.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def name_matches(dialect: str, name: Any, words: str) -> Any:
    """A name containing ``words``, any case (PostgreSQL: served by a trigram index)."""
    if dialect == "postgresql":
        return name.ilike(_like_pattern(words), escape="/")
    return func.lower(name).like(_like_pattern(words.lower()), escape="/")


def indexed(dialect: str, words: str) -> bool:
    """Whether SQLite's FTS5 table answers this search (three characters or more)."""
    return dialect == "sqlite" and len(words) >= TRIGRAM


def _matching(words: str) -> Any:
    """FTS5's MATCH of ``words`` as a quoted phrase (a substring, case folded)."""
    phrase = '"' + words.replace('"', '""') + '"'
    return literal_column(MESSAGES_SEARCH).op("MATCH")(phrase)


def _lines_saying(words: str, first_line: Any = None) -> Any:
    """The ids of the transcript lines containing ``words`` (from ``first_line`` on, when
    given: FTS5 seeks to it in its doclists instead of listing every match)."""
    found = select(_SEARCH.c.rowid).where(_matching(words))
    return found if first_line is None else found.where(_SEARCH.c.rowid >= first_line)


def chats_saying(dialect: str, words: str) -> Any:
    """The ids of the chats with a transcript line containing ``words`` (any case), as a
    subquery for ``Chat.id IN (...)``: the index finds the lines, not a walk of chats."""
    if not indexed(dialect, words):
        return select(Message.chat_id).where(name_matches(dialect, Message.text, words))
    return select(Message.chat_id).where(Message.id.in_(_lines_saying(words)))


def chat_says(words: str, chat_id: Any, first_line: Any = None) -> Any:
    """SQLite, a word in many chats: the chat ``chat_id`` has a line among the matching
    ones. SQLite builds the lines' ids once and probes them with each chat's lines, so a
    walk of chats by close time stops at its page instead of sorting every match.

    ``first_line``: the smallest id of the walked chats' lines, when the walk is held to
    a window of recent chats; only the matches from there on are listed. (Probing FTS5
    once per line or per chat, with ``rowid = ?`` or a range, was measured slower: each
    probe opens the phrase's trigram doclists again: about 0.2 ms for "warranty".)"""
    lines = _lines_saying(words, first_line)
    return exists().where(Message.chat_id == chat_id, Message.id.in_(lines))


def chat_mentions(words: str, chat_id: Any, *, walked: bool = False) -> Any:
    """PostgreSQL: the chat ``chat_id`` has a line containing ``words`` (any case).

    ``walked``: kept as a subquery run chat by chat (its ``OFFSET 0`` keeps the planner
    from turning it into a join), which stops at the chat's first matching line and
    never lists the word's lines: a probe of a few chats costs what those chats hold,
    however common or rare the word. Otherwise the planner chooses between probing
    each chat and listing the lines through the trigram index."""
    line = select(Message.id).where(
        Message.chat_id == chat_id, name_matches("postgresql", Message.text, words)
    )
    return exists(line.offset(literal_column("0")) if walked else line)


def lines_saying(words: str) -> tuple[Any, Any, Any]:
    """SQLite: the FTS5 table, its join to ``messages`` and the match, for a count that
    stops at its limit: the table streams its matches and ``DISTINCT`` stops after the
    limit's chats, where ``IN (...)`` lists every match first."""
    return _SEARCH, _SEARCH.c.rowid == Message.id, _matching(words)
