"""The chat lists a room asks for: its open chats, and its last closed ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store import access
from store.assignment import queue_ranked
from store.history import CLOSED
from store.matches import customers_named
from store.models import Chat, ChatState, Customer
from store.unit import Unit
from store.views import OWNER, chats_with_people
from store.vocabulary import Refusal, Refused

HISTORY_LIMIT = 10
OPEN_LIST_LIMIT = 30


@dataclass(frozen=True)
class ListedChat:
    id: int
    ref: str
    state: ChatState
    customer_name: str
    owner_name: str | None
    thread_id: str | None
    created_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    position: int | None = None  # its place in the department's queue, while it waits there


@dataclass(frozen=True)
class ChatList:
    department: str
    chats: tuple[ListedChat, ...]
    more: bool
    now: datetime


async def chat_list(
    tx: Unit, channel_id: str, *, closed: bool, customer: str | None = None
) -> ChatList | Refused:
    """The room's open chats (oldest first), or its last closed ones (newest first)."""
    department = await access.room(tx, channel_id)
    if department is None:
        return Refused(Refusal.NOT_A_ROOM)
    query = chats_with_people(
        Chat.id,
        Chat.public_id,
        Chat.state,
        Customer.name,
        OWNER.c.name,
        Chat.thread_id,
        Chat.created_at,
        Chat.accepted_at,
        Chat.closed_at,
    ).where(Chat.department_id == department.id)
    if closed:
        # The literal state lets the partial index of closed chats serve the page.
        query = query.where(Chat.state == CLOSED).order_by(Chat.closed_at.desc(), Chat.id.desc())
        limit = HISTORY_LIMIT
    else:
        ranked = queue_ranked(department.id)
        query = (
            query.add_columns(ranked.c.position)
            .outerjoin(ranked, ranked.c.id == Chat.id)
            .where(Chat.state != ChatState.CLOSED)
            .order_by(Chat.id)
        )
        limit = OPEN_LIST_LIMIT
    if customer:
        # By name, e-mail or phone, with the same person's chats from other channels.
        query = query.where(Chat.customer_id.in_(customers_named(tx.dialect, customer)))
    rows = (await tx.session.execute(query.limit(limit + 1))).all()
    return ChatList(
        department=department.name,
        chats=tuple(ListedChat(*row) for row in rows[:limit]),
        more=len(rows) > limit,
        now=tx.now,
    )
