"""The console's settings: read a department's, change them, and record every change.

Each change is one transaction that writes the change and its audit entry (who, when,
what) together, so the record can never miss a change or name one that did not happen.
The caller has checked that the supervisor supervises the department.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.console_models import AuditEntry, DepartmentHours
from store.core import StoreCore
from store.hours import BusinessHours, hours_of
from store.models import (
    Agent,
    CannedAnswer,
    ChatTag,
    Department,
    DepartmentMember,
    Supervisor,
    Tag,
    TagRequirement,
)

AUDIT_SHOWN = 50


@dataclass(frozen=True)
class MemberLine:
    agent_id: int
    name: str
    availability: str
    supervisor: bool


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    who: str
    action: str
    detail: str


@dataclass(frozen=True)
class DepartmentSettings:
    name: str
    room: str
    capacity: int | None
    hours: BusinessHours | None
    tag_required: bool
    tags: tuple[str, ...]
    canned: tuple[tuple[str, str], ...]
    company_canned: tuple[tuple[str, str], ...]
    members: tuple[MemberLine, ...]
    audit: tuple[AuditLine, ...]


class ConsoleSettings(StoreCore):
    async def department_settings(self, department_id: int) -> DepartmentSettings:
        async with self._sessions() as session:
            department = await session.get(Department, department_id)
            assert department is not None
            tags = await session.scalars(
                select(Tag.name).where(Tag.department_id == department_id).order_by(Tag.name)
            )
            canned = await session.execute(
                select(CannedAnswer.department_id, CannedAnswer.shortcut, CannedAnswer.text)
                .where(
                    (CannedAnswer.department_id == department_id)
                    | CannedAnswer.department_id.is_(None)
                )
                .order_by(CannedAnswer.shortcut)
            )
            supervisors = set(
                await session.scalars(
                    select(Supervisor.agent_id).where(Supervisor.department_id == department_id)
                )
            )
            members = await session.execute(
                select(Agent.id, Agent.name, Agent.availability)
                .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
                .where(DepartmentMember.department_id == department_id)
                .order_by(Agent.name)
            )
            audit = await session.execute(
                select(AuditEntry.created_at, Agent.name, AuditEntry.action, AuditEntry.detail)
                .join(Agent, Agent.id == AuditEntry.agent_id)
                .where(
                    (AuditEntry.department_id == department_id) | AuditEntry.department_id.is_(None)
                )
                .order_by(AuditEntry.id.desc())
                .limit(AUDIT_SHOWN)
            )
            rows = canned.all()
            listed = [MemberLine(i, n, str(a), i in supervisors) for i, n, a in members]
            return DepartmentSettings(
                name=department.name,
                room=department.channel_id,
                capacity=department.capacity,
                hours=await hours_of(session, department_id),
                tag_required=await session.get(TagRequirement, department_id) is not None,
                tags=tuple(tags),
                canned=tuple((s, t) for d, s, t in rows if d is not None),
                company_canned=tuple((s, t) for d, s, t in rows if d is None),
                members=tuple(listed),
                audit=tuple(AuditLine(*row) for row in audit),
            )

    def _audit(
        self,
        session: AsyncSession,
        department_id: int | None,
        agent_id: int,
        action: str,
        detail: dict[str, Any],
    ) -> None:
        session.add(
            AuditEntry(
                department_id=department_id,
                agent_id=agent_id,
                action=action,
                detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
                created_at=self.clock(),
            )
        )

    async def console_capacity(
        self, department_id: int, agent_id: int, capacity: int | None
    ) -> None:
        async with self._write() as session:
            await session.execute(
                update(Department)
                .where(Department.id == department_id)
                .values(capacity=capacity)
                .execution_options(synchronize_session=False)
            )
            self._audit(session, department_id, agent_id, "capacity", {"capacity": capacity})

    async def set_hours(
        self, department_id: int, agent_id: int, hours: BusinessHours | None
    ) -> None:
        """New business hours (None: always open)."""
        async with self._write() as session:
            await session.execute(
                delete(DepartmentHours).where(DepartmentHours.department_id == department_id)
            )
            detail: dict[str, Any] = {"hours": None}
            if hours is not None:
                row = DepartmentHours(
                    department_id=department_id,
                    time_zone=hours.time_zone,
                    days="".join(str(day) for day in hours.days),
                    opens=hours.opens.strftime("%H:%M"),
                    closes=hours.closes.strftime("%H:%M"),
                    updated_at=self.clock(),
                )
                session.add(row)
                span = f"{row.opens}-{row.closes}"
                detail = {"zone": row.time_zone, "days": row.days, "hours": span}
            self._audit(session, department_id, agent_id, "hours", detail)

    async def set_tag_required(self, department_id: int, agent_id: int, required: bool) -> None:
        async with self._write() as session:
            await session.execute(
                delete(TagRequirement).where(TagRequirement.department_id == department_id)
            )
            if required:
                session.add(TagRequirement(department_id=department_id, created_at=self.clock()))
            self._audit(session, department_id, agent_id, "tag_required", {"on": required})

    async def change_tag(self, department_id: int, agent_id: int, name: str, *, add: bool) -> bool:
        """Add or remove a tag; False when there was nothing to do (or it is in use)."""
        async with self._write() as session:
            if add:
                done = await self._insert_ignore(
                    session,
                    Tag,
                    {"department_id": department_id, "name": name, "created_at": self.clock()},
                )
            else:
                tag_id = await session.scalar(
                    select(Tag.id).where(Tag.department_id == department_id, Tag.name == name)
                )
                used = tag_id is not None and await session.scalar(
                    select(func.count(ChatTag.id)).where(ChatTag.tag_id == tag_id)
                )
                done = tag_id is not None and not used
                if done:
                    await session.execute(delete(Tag).where(Tag.id == tag_id))
            if done:
                action = "tag_added" if add else "tag_removed"
                self._audit(session, department_id, agent_id, action, {"tag": name})
            return bool(done)

    async def change_canned(
        self,
        department_id: int,
        agent_id: int,
        shortcut: str,
        text: str | None,
        *,
        company_wide: bool,
    ) -> bool:
        """Write (``text``) or remove (None) a canned answer of the department or, when
        ``company_wide``, of the company; the audit names the department it was done from."""
        owner = None if company_wide else department_id
        async with self._write() as session:
            match = (
                CannedAnswer.department_id.is_(None)
                if owner is None
                else CannedAnswer.department_id == owner
            )
            result = await session.execute(
                delete(CannedAnswer).where(match, CannedAnswer.shortcut == shortcut)
            )
            if text is not None:
                session.add(
                    CannedAnswer(
                        department_id=owner,
                        shortcut=shortcut,
                        text=text,
                        created_by_id=agent_id,
                        created_at=self.clock(),
                    )
                )
            elif result.rowcount == 0:
                return False
            detail = {"shortcut": shortcut, "company_wide": company_wide, "text": text}
            self._audit(session, department_id, agent_id, "canned", detail)
            return True

    async def set_supervisor(
        self, department_id: int, agent_id: int, target_id: int, *, add: bool
    ) -> bool:
        """Make a member a supervisor, or not; the last supervisor stays."""
        async with self._write() as session:
            member = await session.scalar(
                select(DepartmentMember.id).where(
                    DepartmentMember.department_id == department_id,
                    DepartmentMember.agent_id == target_id,
                )
            )
            if member is None:
                return False
            if add:
                done = await self._insert_ignore(
                    session,
                    Supervisor,
                    {
                        "department_id": department_id,
                        "agent_id": target_id,
                        "created_at": self.clock(),
                    },
                )
            else:
                others = select(Supervisor.id).where(
                    Supervisor.department_id == department_id, Supervisor.agent_id != target_id
                )
                result = await session.execute(
                    delete(Supervisor)
                    .where(
                        Supervisor.department_id == department_id,
                        Supervisor.agent_id == target_id,
                        others.exists(),
                    )
                    .execution_options(synchronize_session=False)
                )
                done = result.rowcount == 1
            if done:
                action = "supervisor_added" if add else "supervisor_removed"
                name = await session.scalar(select(Agent.name).where(Agent.id == target_id))
                self._audit(session, department_id, agent_id, action, {"agent": name})
            return done
