"""Who a chat's announcements are for, read inside the transaction that makes them.

The request card @mentions the department's online agents, a re-announcement adds
its supervisors, and a returning customer's card names their earlier chats; all
of it comes from the database at the moment of the change, never from memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.hours import back_at
from store.models import Agent, Availability, Chat, ChatState, Department, DepartmentMember
from store.models import Supervisor as SupervisorRow
from store.unit import insert_ignoring
from store.views import Person


@dataclass(frozen=True)
class Audience:
    """The departments to choose from and the people a chat's notices name."""

    departments: tuple[tuple[str, str], ...]
    online: tuple[Person, ...] = ()
    supervisors: tuple[Person, ...] = ()
    earlier_chats: tuple[tuple[int, str], ...] = ()  # (id, public reference), newest first
    last_owner: str | None = None
    position: int = 0
    # Outside the department's business hours: when its team is back (department's zone).
    back_at: datetime | None = None


def person(agent: Agent) -> Person:
    return Person(teams_id=agent.teams_id, name=agent.name, aad_object_id=agent.aad_object_id)


Choices = tuple[tuple[str, str], ...]  # departments a customer may pick, as (key, name)


async def departments(session: AsyncSession) -> Choices:
    """Every department as (key, name), in the order they were set up."""
    rows = await session.execute(select(Department.key, Department.name).order_by(Department.id))
    return tuple((key, name) for key, name in rows)


async def online_members(session: AsyncSession, department_id: int) -> list[Agent]:
    return list(
        await session.scalars(
            select(Agent)
            .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
            .where(
                DepartmentMember.department_id == department_id,
                Agent.availability == Availability.ONLINE,
            )
            .order_by(Agent.name, Agent.id)
        )
    )


async def add_member(
    session: AsyncSession, department_id: int, agent_id: int, now: datetime
) -> None:
    """Remember that an agent works in a department (idempotent: the unique index
    decides, so two replicas seating the same agent cannot both insert)."""
    insert = insert_ignoring(session.bind.dialect.name)
    row = {"department_id": department_id, "agent_id": agent_id, "created_at": now}
    await session.execute(insert(DepartmentMember).values(**row).on_conflict_do_nothing())


async def audience(session: AsyncSession, chat_id: int, *, now: datetime | None = None) -> Audience:
    """Who to name for a chat: online members (its last owner first), supervisors, history;
    with ``now``, also whether the department is outside its business hours."""
    chat = await session.get(Chat, chat_id)
    assert chat is not None
    everything = await departments(session)
    earlier = (
        await session.execute(
            select(Chat.id, Chat.public_id, Chat.owner_id)
            .where(Chat.customer_id == chat.customer_id, Chat.state == ChatState.CLOSED)
            .order_by(Chat.id.desc())
        )
    ).all()
    last_owner = None
    if earlier and earlier[0].owner_id is not None:
        last_owner = await session.get(Agent, earlier[0].owner_id)
    if chat.department_id is None:
        return Audience(
            departments=everything,
            earlier_chats=tuple((row.id, row.public_id) for row in earlier),
            last_owner=last_owner.name if last_owner else None,
        )
    online = await online_members(session, chat.department_id)
    if last_owner is not None and last_owner in online:
        online.remove(last_owner)
        online.insert(0, last_owner)
    supervisors = await session.scalars(
        select(Agent)
        .join(SupervisorRow, SupervisorRow.agent_id == Agent.id)
        .where(SupervisorRow.department_id == chat.department_id)
        .order_by(Agent.name, Agent.id)
    )
    position = await session.scalar(
        select(func.count(Chat.id)).where(
            Chat.department_id == chat.department_id,
            Chat.state == ChatState.WAITING,
            Chat.id <= chat.id,
        )
    )
    return Audience(
        departments=everything,
        online=tuple(person(agent) for agent in online),
        supervisors=tuple(person(agent) for agent in supervisors),
        earlier_chats=tuple((row.id, row.public_id) for row in earlier),
        last_owner=last_owner.name if last_owner else None,
        position=position or 0,
        back_at=await back_at(session, chat.department_id, now) if now is not None else None,
    )
