"""A department's supervisors, added and removed by its supervisors (from the room or the
console): one ``do_*`` for each change, whoever asks for it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from store import access, audit
from store.console_sessions import end_sessions
from store.models import Agent, Department, Supervisor
from store.moves import person_of
from store.unit import Unit
from store.views import Person
from store.vocabulary import Refusal, Refused


@dataclass(frozen=True)
class SupervisorsChanged:
    """The department's supervisors after the change; ``changed``: False when there was
    nothing to do (already one, or not one)."""

    department: str
    supervisors: tuple[Person, ...]
    changed: bool = True


async def do_add_supervisor(
    tx: Unit, department_id: int, actor_id: int, target_id: int
) -> SupervisorsChanged | Refused:
    """A supervisor makes another agent a supervisor of the department (the actor's role
    in the INSERT's WHERE; the unique key makes a second add nothing)."""
    added = await tx.insert_ignore(
        Supervisor,
        {"department_id": department_id, "agent_id": target_id, "created_at": tx.now},
        where=audit.supervises(department_id, actor_id),
    )
    return await _changed(tx, department_id, actor_id, target_id, added, "supervisor_added")


async def do_remove_supervisor(
    tx: Unit, department_id: int, actor_id: int, target_id: int
) -> SupervisorsChanged | Refused:
    """A supervisor removes one (maybe themselves); the last one stays: the DELETE's WHERE
    requires the actor's role and another supervisor, so a department is never left
    without one, even when two remove each other at once: the department's row is
    written first, so two removals take turns and the second one's WHERE sees the first
    (an EXISTS alone reads its statement's snapshot, where both still stand)."""
    await access.hold_department(tx, department_id)
    others = select(Supervisor.id).where(
        Supervisor.department_id == department_id, Supervisor.agent_id != target_id
    )
    result = await tx.session.execute(
        delete(Supervisor)
        .where(
            Supervisor.department_id == department_id,
            Supervisor.agent_id == target_id,
            audit.supervises(department_id, actor_id),
            others.exists(),
        )
        .execution_options(synchronize_session=False)
    )
    removed = result.rowcount == 1
    if removed:
        # No longer a supervisor here: their console sessions end with the role.
        await end_sessions(tx, target_id)
    return await _changed(tx, department_id, actor_id, target_id, removed, "supervisor_removed")


async def _changed(
    tx: Unit, department_id: int, actor_id: int, target_id: int, done: bool, action: str
) -> SupervisorsChanged | Refused:
    """The outcome, read after the change, and its audit entry when there was one; why
    not, when the change did nothing."""
    rows = list(
        await tx.session.scalars(
            select(Agent)
            .join(Supervisor, Supervisor.agent_id == Agent.id)
            .where(Supervisor.department_id == department_id)
            .order_by(Agent.name)
        )
    )
    ids = {agent.id for agent in rows}
    if not done and actor_id not in ids:
        return Refused(Refusal.SUPERVISOR_ONLY)
    if not done and ids == {target_id} and action == "supervisor_removed":
        return Refused(Refusal.LAST_SUPERVISOR)
    name = await tx.session.scalar(select(Department.name).where(Department.id == department_id))
    if done:
        target = await tx.session.scalar(select(Agent.name).where(Agent.id == target_id))
        audit.record(tx, department_id, actor_id, action, {"agent": target})
    return SupervisorsChanged(str(name), tuple(person_of(a) for a in rows), done)
