"""A chat read back whole: for the transcript page and the console's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from store.models import Agent, Chat, Message, MessageKind, Participant, ParticipantRole
from store.unit import Unit
from store.views import ChatView, chat_view


@dataclass(frozen=True)
class TranscriptLine:
    kind: MessageKind
    author: str
    text: str
    at: datetime
    attachments: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Transcript:
    chat: ChatView
    participants: tuple[tuple[str, ParticipantRole], ...]
    lines: tuple[TranscriptLine, ...]


async def chat_by_ref(tx: Unit, ref: str) -> int | None:
    """The row id of the chat a transcript link or a console page names."""
    return await tx.session.scalar(select(Chat.id).where(Chat.public_id == ref))


async def transcript(tx: Unit, chat_id: int) -> Transcript | None:
    """Everything said in a chat, in order, with everyone who took part."""
    session = tx.session
    if await session.get(Chat, chat_id) is None:
        return None
    view = await chat_view(session, chat_id)
    people = await session.execute(
        select(Agent.name, Participant.role)
        .join(Agent, Agent.id == Participant.agent_id)
        .where(Participant.chat_id == chat_id)
        .order_by(Participant.id)
    )
    lines = await session.scalars(
        select(Message).where(Message.chat_id == chat_id).order_by(Message.id)
    )
    return Transcript(
        chat=view,
        participants=tuple((name, role) for name, role in people),
        lines=tuple(
            TranscriptLine(
                kind=m.kind,
                author=m.author,
                text=m.text,
                at=m.created_at,
                attachments=tuple(m.attachments or ()),
            )
            for m in lines
        ),
    )
