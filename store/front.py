"""What the website's front door reads: the departments a visitor may pick and whether
anyone is online to answer them.

Plain reads over the caller's unit (``store.reading()``): the chat page and the widget's
button ask on every load, and nothing they read is changed by them.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select

from store.audience import Choices, departments
from store.hours import back_at
from store.models import Agent, Availability, Department, DepartmentMember
from store.unit import Unit


async def department_choices(tx: Unit) -> Choices:
    """The departments a visitor may pick, as (key, name)."""
    return await departments(tx.session)


async def online_count(tx: Unit, department: str | None) -> int | None:
    """How many agents are online to answer now in a department (named by key or
    name), or in any department when none is named; None when no department has that
    name. A department outside its business hours has nobody to answer: the button
    then says "leave us a message", as the chat will."""
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
    open_now = [d for d in wanted if await back_at(session, d, tx.now) is None]
    if not open_now:
        return 0
    online = (
        select(func.count(func.distinct(Agent.id)))
        .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
        .where(
            Agent.availability == Availability.ONLINE,
            DepartmentMember.department_id.in_(open_now),
        )
    )
    return await session.scalar(online) or 0
