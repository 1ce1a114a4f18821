"""The unit of work: one transaction, its clock reading, and what it queues to send.

Every change runs as ``async with store.unit() as tx``: the ``do_*`` functions of the
store's aggregates take ``tx`` first and return a typed outcome; the dialog turns the
outcome into activities (``notify_*``) and queues them with ``tx.enqueue`` before the
block ends, so the change and its activities commit together. The store never calls up
into dialogs or cards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from store import outbox
from store.models import Agent, InboundActivity, Message, MessageKind, OutboxItem, UTCDateTime
from store.outbox import Outgoing
from store.vocabulary import ChatEvent

# An outgoing message to a customer whose payload names a chat under this key is also kept
# in that chat's transcript as the bridge's own words (the key is removed before sending).
TRANSCRIPT_CHAT = "transcript_chat"  # ``Send.transcript_chat``

# Longest inbound key kept (the column's width).
_KEY_LIMIT = 700


def insert_ignoring(session: AsyncSession) -> Any:
    """The dialect's INSERT that can do nothing on a unique conflict."""
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


@dataclass(frozen=True)
class IntakeLimits:
    """How many new chats may reach the room per ``window``: from one customer
    conversation, and from one channel (Web Chat, Teams...). Chats beyond them are kept
    and answered, and their cards posted later, spread over the following windows."""

    per_conversation: int = 3
    per_channel: int = 60
    window: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class Policy:
    """The routing knobs a company sets: the most chats an agent may own where the
    department sets no limit (None: unlimited), when a waiting chat is announced again,
    and how fast new chats may reach a room. Fixed for the store's life."""

    unanswered_after: timedelta = timedelta(seconds=120)
    default_capacity: int | None = None
    intake_limits: IntakeLimits = IntakeLimits()


@dataclass
class Unit:
    """One transaction of the store, as the ``do_*`` functions and dialogs see it."""

    session: AsyncSession
    now: datetime
    policy: Policy = Policy()
    added: list[OutboxItem] = field(default_factory=list)
    # Lanes this unit's reads found with nothing waiting: its first row in one of them
    # is written already leased (no separate lease statement).
    idle_lanes: set[str] = field(default_factory=set)

    @property
    def dialect(self) -> str:
        return self.session.bind.dialect.name

    def enqueue(self, items: Iterable[Outgoing]) -> None:
        """Queue activities to send once this unit commits (in its outbox rows)."""
        listed = list(items)
        for item in listed:
            chat_id = item.payload.pop(TRANSCRIPT_CHAT, None)
            said = item.payload.get("activity", {}).get("text")
            if chat_id is not None and said:
                self.note(chat_id, MessageKind.BOT, "", said)
        if listed:
            self.added.extend(outbox.add_outgoing(self.session, listed, self.now))

    def note(
        self,
        chat_id: int,
        kind: MessageKind,
        author: str,
        text: str,
        *,
        agent_id: int | None = None,
        source_key: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> None:
        """Add a line to a chat's transcript."""
        self.session.add(
            Message(
                chat_id=chat_id,
                kind=kind,
                agent_id=agent_id,
                author=author,
                text=text,
                source_key=source_key,
                created_at=self.now,
                attachments=attachments or None,
            )
        )

    def event(self, chat_id: int, event: ChatEvent, agent: Agent) -> None:
        """Keep in a chat's transcript that ``agent`` made ``event`` happen."""
        self.note(chat_id, MessageKind.ACTIVITY, agent.name, event, agent_id=agent.id)

    async def insert_ignore(self, table: Any, values: dict[str, Any]) -> bool:
        """INSERT that does nothing on a unique conflict; True if a row was added."""
        insert = insert_ignoring(self.session)
        result = await self.session.execute(insert(table).values(**values).on_conflict_do_nothing())
        return result.rowcount == 1

    async def first_time(self, keys: Sequence[str]) -> bool:
        """Record the inbound activity's keys in one statement; False if any was seen
        before (a channel's re-delivery, or Web Chat's retry under a new activity id)."""
        if not keys:
            return True
        distinct = list(dict.fromkeys(key[:_KEY_LIMIT] for key in keys))
        statement = _seen_statement(self.dialect, len(distinct))
        values: dict[str, Any] = {f"p_key{n}": key for n, key in enumerate(distinct)}
        values["p_at"] = self.now
        result = await self.session.execute(statement, values)
        return result.rowcount == len(distinct)


@cache
def _seen_statement(dialect: str, count: int) -> Any:
    """Recording ``count`` inbound keys, built once per dialect and count: this runs for
    every inbound activity, and building a statement costs more than running it."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    at = bindparam("p_at", type_=UTCDateTime())
    rows = [{"key": bindparam(f"p_key{n}"), "received_at": at} for n in range(count)]
    return insert(InboundActivity.__table__).values(rows).on_conflict_do_nothing()
