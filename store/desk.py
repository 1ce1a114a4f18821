"""What the console's live page shows beside the chats: the department's agents (who is
online, how loaded) and its queue (in order, with each place's estimate).

Reads only, each taking the department id the console checked against the signed-in
supervisor's departments. The queue is counted as the customers' notices count it
(``assignment.queue_ranked``: priority first, then first come, first served).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select

from store.assignment import load_of, queue_estimate, queue_ranked
from store.models import (
    Agent,
    Availability,
    Chat,
    ChatState,
    Customer,
    Department,
    DepartmentMember,
)
from store.unit import Unit


@dataclass(frozen=True)
class DeskAgent:
    """A member of the department: availability, seats filled (owned chats and pending
    offers, in every department) and the capacity they count against (None: no limit)."""

    name: str
    availability: Availability
    load: int
    capacity: int | None
    offered: bool  # a chat is offered to them and waits for their Accept


@dataclass(frozen=True)
class QueuedChat:
    ref: str
    customer: str
    created_at: datetime
    position: int
    estimate: timedelta | None  # until their turn (None: too little data to say)


@dataclass(frozen=True)
class Desk:
    agents: tuple[DeskAgent, ...]
    queue: tuple[QueuedChat, ...]


QUEUE_SHOWN = 100


async def desk(tx: Unit, department_id: int) -> Desk:
    """The department's agents (online first, then by name) and its queue, in order."""
    session = tx.session
    capacity = await session.scalar(
        select(Department.capacity).where(Department.id == department_id)
    )
    if capacity is None:
        capacity = tx.policy.default_capacity
    offered = exists().where(Chat.offered_to_id == Agent.id, Chat.state == ChatState.WAITING)
    rows = await session.execute(
        select(Agent.name, Agent.availability, load_of(Agent.id), offered)
        .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
        .where(DepartmentMember.department_id == department_id)
        .order_by(Agent.availability != Availability.ONLINE, Agent.name)
    )
    agents = tuple(
        DeskAgent(name, availability, int(load), capacity, bool(is_offered))
        for name, availability, load, is_offered in rows
    )
    ranked = queue_ranked(department_id)
    queued = (
        await session.execute(
            select(Chat.public_id, Customer.name, ranked.c.created_at, ranked.c.position)
            .join(Chat, Chat.id == ranked.c.id)
            .join(Customer, Customer.id == Chat.customer_id)
            .order_by(ranked.c.position)
            .limit(QUEUE_SHOWN)
        )
    ).all()
    each = await queue_estimate(tx, department_id) if queued else None
    queue = tuple(
        QueuedChat(ref, name, at, int(place), each * int(place) if each is not None else None)
        for ref, name, at, place in queued
    )
    return Desk(agents, queue)


async def desk_fingerprint(tx: Unit, department_id: int) -> tuple[Any, ...]:
    """What changes when the panels would, beside the chats' own fingerprint: each
    member's availability, and the department's pending offers."""
    members = select(DepartmentMember.agent_id).where(
        DepartmentMember.department_id == department_id
    )
    tallies = [
        select(func.coalesce(func.sum(Agent.id), 0))
        .where(Agent.id.in_(members), Agent.availability == state)
        .scalar_subquery()
        for state in (Availability.ONLINE, Availability.AWAY)
    ]
    offers = (
        select(func.coalesce(func.sum(Chat.offered_to_id), 0))
        .where(and_(Chat.department_id == department_id, Chat.state == ChatState.WAITING))
        .scalar_subquery()
    )
    return tuple((await tx.session.execute(select(*tallies, offers))).one())
