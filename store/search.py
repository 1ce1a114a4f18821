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

from sqlalchemy import column, func, literal_column, select, table

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


def chats_saying(dialect: str, words: str) -> Any:
    """The ids of the chats with a transcript line containing ``words`` (any case), as a
    subquery for ``Chat.id IN (...)``: the index finds the lines, not a walk of chats."""
    if dialect == "postgresql":
        return select(Message.chat_id).where(name_matches(dialect, Message.text, words))
    if len(words) < TRIGRAM:
        return select(Message.chat_id).where(name_matches(dialect, Message.text, words))
    phrase = '"' + words.replace('"', '""') + '"'
    lines = select(_SEARCH.c.rowid).where(literal_column(MESSAGES_SEARCH).op("MATCH")(phrase))
    return select(Message.chat_id).where(Message.id.in_(lines))
