"""What the website's front door reads: the departments a visitor may pick and whether
anyone is online to answer them."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from store.audience import Choices, departments
from store.core import StoreCore
from store.models import Agent, Availability, Department, DepartmentMember


class FrontDoor(StoreCore):
    """Read-only questions of the chat page and the widget (no transaction, no outbox)."""

    async def department_choices(self) -> Choices:
        async with self._sessions() as session:
            return await departments(session)

    async def online_count(self, department: str | None) -> int | None:
        """How many agents are online in a department (named by key or name), or in any
        department when none is named; None when no department has that name."""
        async with self._sessions() as session:
            online = (
                select(func.count(func.distinct(Agent.id)))
                .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
                .where(Agent.availability == Availability.ONLINE)
            )
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
                online = online.where(DepartmentMember.department_id == found)
            return await session.scalar(online) or 0
