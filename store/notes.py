"""Internal notes: kept in a chat's transcript, never sent to anyone."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, literal, or_, select

from store import access, people
from store.models import Chat, ChatState, Message, MessageKind, UTCDateTime
from store.unit import Unit
from store.views import Person
from store.vocabulary import Refusal, Refused

# Longest inbound key kept as a message's source (the column's width).
_SOURCE_LIMIT = 700


@dataclass(frozen=True)
class NoteAdded:
    chat_id: int


async def do_add_note(
    tx: Unit, chat_id: int, person: Person, text: str, source_key: str | None
) -> NoteAdded | Refused:
    """Keep an internal note in the chat's transcript.

    Only the chat's current participants and its department's supervisors may, and
    only while it is open: the conditions are the WHERE of the INSERT itself. A refusal
    reads the chat once more, only to say why.
    """
    session = tx.session
    agent = await people.agent(tx, person)
    participates, supervises = access.in_chat_or_supervising(agent.id)
    columns = Message.__table__.c
    values = select(
        Chat.id,
        literal(MessageKind.NOTE, columns.kind.type),
        literal(agent.id),
        literal(agent.name, columns.author.type),
        literal(text, columns.text.type),
        literal(source_key[:_SOURCE_LIMIT] if source_key else None, columns.source_key.type),
        literal(tx.now, UTCDateTime()),
    ).where(Chat.id == chat_id, Chat.state != ChatState.CLOSED, or_(participates, supervises))
    result = await session.execute(
        insert(Message).from_select(
            ["chat_id", "kind", "agent_id", "author", "text", "source_key", "created_at"], values
        )
    )
    if result.rowcount == 1:
        return NoteAdded(chat_id)
    state = await session.scalar(select(Chat.state).where(Chat.id == chat_id))
    if state is None:
        return Refused(Refusal.UNKNOWN_CHAT)
    return Refused(Refusal.CHAT_CLOSED if state == ChatState.CLOSED else Refusal.NOT_PARTICIPANT)
