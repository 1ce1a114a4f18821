"""Agents' availability: what an agent says (``@Bot online``), what routing reads, and
the room's roster behind ``@Bot who``.

Routing reads availability from the database, never from memory. Coming online is
decided by the UPDATE itself (the agent was not online in its WHERE), so two replicas
setting it at once tell the agent of the waiting chats once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, literal, select, update
from sqlalchemy.sql.elements import ColumnElement

from store import people
from store.audience import add_member
from store.models import (
    Agent,
    Availability,
    Chat,
    ChatState,
    Department,
    DepartmentMember,
    UTCDateTime,
)
from store.unit import Unit, insert_ignoring
from store.views import ChatView, Person, chat_view
from store.vocabulary import Refusal, Refused


@dataclass(frozen=True)
class AvailabilityChanged:
    """``waiting``: the agent came online (they were not before), and these chats wait
    in their departments."""

    current: Availability
    came_online: bool
    waiting: tuple[ChatView, ...] = ()


@dataclass(frozen=True)
class RosterLine:
    name: str
    availability: Availability
    open_chats: int


@dataclass(frozen=True)
class Roster:
    department: str
    capacity: int | None
    agents: tuple[RosterLine, ...]


async def availability_of(tx: Unit, person: Person) -> Availability:
    """What the agent set last (offline for someone the bridge has not met yet)."""
    found = await tx.session.scalar(
        select(Agent.availability).where(Agent.teams_id == person.teams_id)
    )
    return found or Availability.OFFLINE


async def do_set_availability(
    tx: Unit, person: Person, availability: Availability, *, channel_id: str | None = None
) -> AvailabilityChanged:
    """Record an agent's availability. Said in a room (``channel_id``), it also makes the
    agent a member of that department. An agent coming online hears of the chats still
    waiting in their departments, so nobody has to look for them."""
    agent = await people.agent(tx, person)
    _, came_online = await set_agent_availability(tx, Agent.id == agent.id, availability)
    if channel_id is not None:
        await join_room(tx, agent.id, channel_id)
    waiting = await waiting_for(tx, agent.id) if came_online else ()
    return AvailabilityChanged(availability, bool(came_online), tuple(waiting))


async def set_agent_availability(
    tx: Unit, which: ColumnElement[bool], availability: Availability, **also: object
) -> tuple[int, int]:
    """Set the availability of the agents ``which`` selects: how many rows changed, and
    how many of them came online by it (only an UPDATE whose WHERE says they were not
    online counts them: of two replicas at once, one does)."""
    values = {"availability": availability, **also}
    if availability == Availability.ONLINE:
        result = await tx.session.execute(
            update(Agent)
            .where(which, Agent.availability != Availability.ONLINE)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:
            return result.rowcount, result.rowcount
    result = await tx.session.execute(
        update(Agent).where(which).values(**values).execution_options(synchronize_session=False)
    )
    return result.rowcount, 0


async def join_room(tx: Unit, agent_id: int, channel_id: str) -> None:
    """Make the agent a member of the department whose room the channel is, in one
    statement: the room is looked up as the row is written, not before."""
    insert = insert_ignoring(tx.dialect)
    room = select(
        Department.id,
        literal(agent_id),
        literal(tx.now, UTCDateTime()),
    ).where(Department.channel_id == channel_id)
    await tx.session.execute(
        insert(DepartmentMember)
        .from_select(["department_id", "agent_id", "created_at"], room)
        .on_conflict_do_nothing()
    )


async def waiting_for(tx: Unit, agent_id: int, *, posted_only: bool = False) -> list[ChatView]:
    """The chats waiting in the agent's departments (``posted_only``: whose card is in a
    thread already), oldest first."""
    query = (
        select(Chat.id)
        .join(DepartmentMember, DepartmentMember.department_id == Chat.department_id)
        .where(DepartmentMember.agent_id == agent_id, Chat.state == ChatState.WAITING)
        .order_by(Chat.id)
    )
    if posted_only:
        query = query.where(Chat.thread_id.is_not(None))
    return [
        await chat_view(tx.session, chat_id) for chat_id in list(await tx.session.scalars(query))
    ]


async def do_roster(
    tx: Unit, person: Person, channel_id: str, team: Sequence[Person] = ()
) -> Roster | Refused:
    """The room's agents with availability and open chats.

    The asker and the ``team`` roster (as the Bot Connector lists it) become members,
    so agents who have not acted in the room yet are listed too.
    """
    session = tx.session
    department = await session.scalar(select(Department).where(Department.channel_id == channel_id))
    if department is None:
        return Refused(Refusal.NOT_A_ROOM)
    for someone in (person, *team):
        agent = await people.agent(tx, someone)
        await add_member(session, department.id, agent.id, tx.now)
    open_chats = (
        select(func.count(Chat.id))
        .where(Chat.owner_id == Agent.id, Chat.state == ChatState.ACTIVE)
        .correlate(Agent)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Agent.name, Agent.availability, open_chats)
        .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
        .where(DepartmentMember.department_id == department.id)
        .order_by(Agent.name, Agent.id)
    )
    capacity = department.capacity
    return Roster(
        department=department.name,
        capacity=capacity if capacity is not None else tx.policy.default_capacity,
        agents=tuple(RosterLine(name, state, count) for name, state, count in rows),
    )
