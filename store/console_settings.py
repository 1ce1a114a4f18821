"""The console's settings: read a department's, change them, and record every change.

Each ``do_*`` runs in the caller's unit and writes the change and its audit entry (who,
when, what) together, so the record can never miss a change or name one that did not
happen. The caller has checked that the supervisor supervises the department.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from store.console_models import AuditEntry, DepartmentHours
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
    names: dict[str, str]  # the department's name per customer language, where given
    hours: BusinessHours | None
    tag_required: bool
    tags: tuple[str, ...]
    canned: tuple[tuple[str, str], ...]
    company_canned: tuple[tuple[str, str], ...]
    members: tuple[MemberLine, ...]
    audit: tuple[AuditLine, ...]


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
        names=dict(department.names or {}),
        hours=await hours_of(session, department_id),
        tag_required=await session.get(TagRequirement, department_id) is not None,
        tags=tuple(tags),
        canned=tuple((s, t) for d, s, t in rows if d is not None),
        company_canned=tuple((s, t) for d, s, t in rows if d is None),
        members=tuple(listed),
        audit=tuple(AuditLine(*row) for row in audit),
    )


def _audit(
    tx: Unit, department_id: int | None, agent_id: int, action: str, detail: dict[str, Any]
) -> None:
    """Record a change in the unit that makes it, so both commit or neither does."""
    tx.session.add(
        AuditEntry(
            department_id=department_id,
            agent_id=agent_id,
            action=action,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
            created_at=tx.now,
        )
    )


async def do_set_capacity(
    tx: Unit, department_id: int, agent_id: int, capacity: int | None
) -> None:
    """The most open chats an agent of the department may own (None: the policy's)."""
    await tx.session.execute(
        update(Department)
        .where(Department.id == department_id)
        .values(capacity=capacity)
        .execution_options(synchronize_session=False)
    )
    _audit(tx, department_id, agent_id, "capacity", {"capacity": capacity})


async def do_set_names(
    tx: Unit, department_id: int, agent_id: int, names: dict[str, str]
) -> None:
    """The department's name in each customer language (empty: its own name there)."""
    await tx.session.execute(
        update(Department)
        .where(Department.id == department_id)
        .values(names=names or None)
        .execution_options(synchronize_session=False)
    )
    _audit(tx, department_id, agent_id, "names", names)


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
            updated_at=tx.now,
        )
        tx.session.add(row)
        span = f"{row.opens}-{row.closes}"
        detail = {"zone": row.time_zone, "days": row.days, "hours": span}
    _audit(tx, department_id, agent_id, "hours", detail)


async def do_set_tag_required(tx: Unit, department_id: int, agent_id: int, required: bool) -> None:
    """Whether a chat of the department may be closed only once it has a tag."""
    await tx.session.execute(
        delete(TagRequirement).where(TagRequirement.department_id == department_id)
    )
    if required:
        tx.session.add(TagRequirement(department_id=department_id, created_at=tx.now))
    _audit(tx, department_id, agent_id, "tag_required", {"on": required})


async def do_change_tag(
    tx: Unit, department_id: int, agent_id: int, name: str, *, add: bool
) -> bool:
    """Add or remove a tag; False when there was nothing to do (or it is in use): a tag
    on a closed chat stays, so history and reports keep naming it."""
    session = tx.session
    if add:
        done = await tx.insert_ignore(
            Tag, {"department_id": department_id, "name": name, "created_at": tx.now}
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
        _audit(tx, department_id, agent_id, action, {"tag": name})
    return bool(done)


async def do_change_canned(
    tx: Unit,
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
    match = (
        CannedAnswer.department_id.is_(None)
        if owner is None
        else CannedAnswer.department_id == owner
    )
    result = await tx.session.execute(
        delete(CannedAnswer).where(match, CannedAnswer.shortcut == shortcut)
    )
    if text is not None:
        tx.session.add(
            CannedAnswer(
                department_id=owner,
                shortcut=shortcut,
                text=text,
                created_by_id=agent_id,
                created_at=tx.now,
            )
        )
    elif result.rowcount == 0:
        return False
    detail = {"shortcut": shortcut, "company_wide": company_wide, "text": text}
    _audit(tx, department_id, agent_id, "canned", detail)
    return True


async def do_set_supervisor(
    tx: Unit, department_id: int, agent_id: int, target_id: int, *, add: bool
) -> bool:
    """Make a member a supervisor, or not; the last supervisor stays (the DELETE's WHERE
    requires another), so a department is never left without one."""
    session = tx.session
    member = await session.scalar(
        select(DepartmentMember.id).where(
            DepartmentMember.department_id == department_id,
            DepartmentMember.agent_id == target_id,
        )
    )
    if member is None:
        return False
    if add:
        done = await tx.insert_ignore(
            Supervisor,
            {"department_id": department_id, "agent_id": target_id, "created_at": tx.now},
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
        _audit(tx, department_id, agent_id, action, {"agent": name})
    return done
