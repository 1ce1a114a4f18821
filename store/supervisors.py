"""A department's supervisors, managed from its room by the supervisors themselves."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select

from store import access, people
from store.models import Agent, Supervisor
from store.moves import person_of
from store.unit import Unit
from store.views import Person
from store.vocabulary import Refusal, Refused


@dataclass(frozen=True)
class SupervisorsChanged:
    department: str
    supervisors: tuple[Person, ...]


async def do_change_supervisor(
    tx: Unit, channel_id: str, actor: Person, target: Person, *, add: bool
) -> SupervisorsChanged | Refused:
    """A supervisor of a room's department adds or removes another; one always remains."""
    department = await access.room(tx, channel_id)
    if department is None:
        return Refused(Refusal.NOT_A_ROOM)
    me = await people.agent(tx, actor)
    if not add:
        # Before the check: a supervisor removed meanwhile by another replica removes nobody.
        await access.hold_department(tx, department.id)
    supervises = exists().where(
        Supervisor.agent_id == me.id, Supervisor.department_id == department.id
    )
    if not await tx.session.scalar(select(supervises)):
        return Refused(Refusal.SUPERVISOR_ONLY)
    other = await people.agent(tx, target)
    if add:
        await tx.insert_ignore(
            Supervisor,
            {"department_id": department.id, "agent_id": other.id, "created_at": tx.now},
        )
    else:
        count = await tx.session.scalar(
            select(func.count(Supervisor.id)).where(Supervisor.department_id == department.id)
        )
        if count == 1 and other.id == me.id:
            return Refused(Refusal.LAST_SUPERVISOR)
        await tx.session.execute(
            delete(Supervisor).where(
                Supervisor.department_id == department.id, Supervisor.agent_id == other.id
            )
        )
    names = await tx.session.scalars(
        select(Agent)
        .join(Supervisor, Supervisor.agent_id == Agent.id)
        .where(Supervisor.department_id == department.id)
        .order_by(Agent.name)
    )
    return SupervisorsChanged(department.name, tuple(person_of(a) for a in names))
