"""What the website's front door reads: the departments a visitor may pick and whether
anyone is online to answer them."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from store.audience import Choices, departments
from store.core import StoreCore
from store.hours import back_at
from store.models import Agent, Availability, Department, DepartmentMember


class FrontDoor(StoreCore):
    """Read-only questions of the chat page and the widget (no transaction, no outbox)."""

    async def department_choices(self) -> Choices:
        async with self._sessions() as session:
            return await departments(session)

    async def online_count(self, department: str | None) -> int | None:
        """How many agents are online to answer now in a department (named by key or
        name), or in any department when none is named; None when no department has that
        name. A department outside its business hours has nobody to answer: the button
        then says "leave us a message", as the chat will."""
        async with self._sessions() as session:
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
            now = self.clock()
            open_now = [d for d in wanted if await back_at(session, d, now) is None]
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
