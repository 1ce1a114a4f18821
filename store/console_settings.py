"""The console's settings page: a department's settings read at once, and its business
hours changed (the console is their only editor).

The other changes the page offers (capacity, tags, canned answers, supervisors) are the
same ``do_*`` the room's commands call, in their aggregates (``departments``, ``tags``,
``canned``, ``supervisors``); each writes its audit entry itself (``store/audit.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from store import ai, audit
from store.console_models import AuditEntry, DepartmentHours
from store.hours import BusinessHours, hours_of
from store.models import (
    Agent,
    CannedAnswer,
    Department,
    DepartmentMember,
    Supervisor,
    Tag,
    TagRequirement,
)
from store.unit import Unit

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
    assignment: str  # one of ``store.assignment.MODES``
    targets: tuple[int | None, int | None]  # first and next answer, business seconds
    queue_priority_tag: str | None  # queued chats with this tag go first
    queue_returning: bool  # queued chats of returning customers go first
    names: dict[str, str]  # the department's name per customer language, where given
    hours: BusinessHours | None
    tag_required: bool
    tags: tuple[str, ...]
    canned: tuple[tuple[str, str], ...]
    company_canned: tuple[tuple[str, str], ...]
    members: tuple[MemberLine, ...]
    audit: tuple[AuditLine, ...]
    first_bot: bool = False  # the company's bot answers new chats first
    ai_calls_today: int = 0  # AI help's calls counted on the department's day budget


async def department_settings(tx: Unit, department_id: int) -> DepartmentSettings:
    """Everything the settings page shows of one department, read in the caller's unit."""
    session = tx.session
    department = await session.get(Department, department_id)
    assert department is not None
    tags = await session.scalars(
        select(Tag.name).where(Tag.department_id == department_id).order_by(Tag.name)
    )
    canned = await session.execute(
        select(CannedAnswer.department_id, CannedAnswer.shortcut, CannedAnswer.text)
        .where((CannedAnswer.department_id == department_id) | CannedAnswer.department_id.is_(None))
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
        .where((AuditEntry.department_id == department_id) | AuditEntry.department_id.is_(None))
        .order_by(AuditEntry.id.desc())
        .limit(AUDIT_SHOWN)
    )
    rows = canned.all()
    listed = [MemberLine(i, n, str(a), i in supervisors) for i, n, a in members]
    return DepartmentSettings(
        name=department.name,
        room=department.channel_id,
        capacity=department.capacity,
        assignment=department.assignment,
        targets=(department.first_response_target, department.next_response_target),
        queue_priority_tag=department.queue_priority_tag,
        queue_returning=department.queue_returning,
        names=dict(department.names or {}),
        hours=await hours_of(session, department_id),
        tag_required=await session.get(TagRequirement, department_id) is not None,
        tags=tuple(tags),
        canned=tuple((s, t) for d, s, t in rows if d is not None),
        company_canned=tuple((s, t) for d, s, t in rows if d is None),
        members=tuple(listed),
        first_bot=department.first_bot,
        ai_calls_today=await ai.calls_counted(tx, ai.day_scope(department_id, tx.now)),
        audit=tuple(AuditLine(*row) for row in audit),
    )


async def do_set_hours(
    tx: Unit, department_id: int, agent_id: int, hours: BusinessHours | None
) -> None:
    """New business hours (None: always open)."""
    await tx.session.execute(
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
        )
        tx.session.add(row)
        span = f"{row.opens}-{row.closes}"
        detail = {"zone": row.time_zone, "days": row.days, "hours": span}
    audit.record(tx, department_id, agent_id, "hours", detail)
