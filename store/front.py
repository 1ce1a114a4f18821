"""What the website's front door reads: the departments a visitor may pick and whether
anyone is online to answer them.

Plain reads over the caller's unit (``store.reading()``): the chat page and the widget's
button ask on every load, and nothing they read is changed by them.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select

from store.audience import Choices, departments
from store.figures import elapsed_seconds
from store.hours import back_at
from store.models import Agent, Availability, Chat, Department, DepartmentMember
from store.unit import Unit


async def department_choices(tx: Unit) -> Choices:
    """The departments a visitor may pick, as (key, name)."""
    return await departments(tx.session)


REPLY_WINDOW = timedelta(days=7)
FACES = 5


async def online_count(tx: Unit, department: str | None) -> int | None:
    """How many agents are online to answer now in a department (named by key or
    name), or in any department when none is named; None when no department has that
    name. A department outside its business hours has nobody to answer: the button
    then says "leave us a message", as the chat will."""
    open_now = await _open_departments(tx, department)
    if not open_now:
        return None if open_now is None else 0
    online = (
        select(func.count(func.distinct(Agent.id)))
        .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
        .where(
            Agent.availability == Availability.ONLINE,
            DepartmentMember.department_id.in_(open_now),
        )
    )
    return await tx.session.scalar(online) or 0


async def online_names(tx: Unit, department: str | None) -> list[str]:
    """The names of a few agents online to answer now (the welcome's faces), by name."""
    open_now = await _open_departments(tx, department)
    if not open_now:
        return []
    names = (
        select(Agent.name)
        .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
        .where(
            Agent.availability == Availability.ONLINE,
            DepartmentMember.department_id.in_(open_now),
        )
        .distinct()
        .order_by(Agent.name)
        .limit(FACES)
    )
    return list(await tx.session.scalars(names))


async def usual_reply_seconds(tx: Unit) -> float | None:
    """The average wait for an agent's first reply over the chats of the last 7 days (an
    aggregate over the indexed creation time); None when there were none."""
    seconds = elapsed_seconds(tx.dialect, Chat.first_reply_at, Chat.created_at)
    return await tx.session.scalar(
        select(func.avg(seconds)).where(
            Chat.created_at >= tx.now - REPLY_WINDOW, Chat.first_reply_at.is_not(None)
        )
    )


async def _open_departments(tx: Unit, department: str | None) -> list[int] | None:
    """The departments named (or all) that are within business hours now; None when no
    department has that name."""
    session = tx.session
    if department:
        found = await session.scalar(
            select(Department.id).where(
                or_(
                    Department.key == department.casefold(),
                    func.lower(Department.name) == department.casefold(),
                )
            )
        )
        if found is None:
            return None
        wanted = [found]
    else:
        wanted = list(await session.scalars(select(Department.id)))
    return [d for d in wanted if await back_at(session, d, tx.now) is None]
