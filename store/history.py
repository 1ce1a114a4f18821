"""The console's history: closed chats of one department, searched and paged.

A read over the caller's unit; the caller has checked that the supervisor supervises
the department, so the search itself only ever names that department's chats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select

from store.console import chat_labels
from store.models import Agent, Chat, ChatState, ChatTag, Customer, Message, Participant, Tag
from store.unit import Unit


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


@dataclass(frozen=True)
class HistoryPage:
    rows: tuple[HistoryRow, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


async def closed_chats(
    tx: Unit, department_id: int, search: HistoryFilter, page: int, per_page: int = 25
) -> HistoryPage:
    """Closed chats of the department matching the search, newest first, one page."""
    owner = Agent.__table__.alias("owner")
    conditions: list[Any] = [
        Chat.department_id == department_id,
        Chat.state == ChatState.CLOSED,
    ]
    if search.customer:
        conditions.append(func.lower(Customer.name).contains(search.customer.lower()))
    if search.agent:
        named = func.lower(Agent.name).contains(search.agent.lower())
        conditions.append(
            or_(
                func.lower(owner.c.name).contains(search.agent.lower()),
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
    if search.text:
        conditions.append(
            exists().where(
                Message.chat_id == Chat.id,
                func.lower(Message.text).contains(search.text.lower()),
            )
        )
    if search.since is not None:
        conditions.append(Chat.created_at >= search.since)
    if search.until is not None:
        conditions.append(Chat.created_at < search.until)
    base = (
        select(Chat.id)
        .join(Customer, Customer.id == Chat.customer_id)
        .outerjoin(owner, owner.c.id == Chat.owner_id)
        .where(and_(*conditions))
    )
    page = max(1, page)
    session = tx.session
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = (
        await session.execute(
            select(
                Chat.id,
                Chat.public_id,
                Customer.name,
                Customer.channel_id,
                owner.c.name,
                Chat.created_at,
                Chat.closed_at,
            )
            .join(Customer, Customer.id == Chat.customer_id)
            .outerjoin(owner, owner.c.id == Chat.owner_id)
            .where(and_(*conditions))
            .order_by(Chat.closed_at.desc(), Chat.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    ).all()
    _, tags = await chat_labels(session, [row[0] for row in rows])
    return HistoryPage(
        rows=tuple(
            HistoryRow(row[1], row[2], row[3], row[4], row[5], row[6], tuple(tags[row[0]]))
            for row in rows
        ),
        total=int(total or 0),
        page=page,
        per_page=per_page,
    )
