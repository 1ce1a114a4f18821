"""Who may touch what: a room's lists are its supervisors', a chat is its participants'
and its department's supervisors'.

Both are read from the ``supervisors`` and ``participants`` tables inside the unit that
makes the change, never taken from what a card or a message claims.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Exists, exists, select, update

from store import people
from store.models import Chat, Department, Participant, Supervisor
from store.unit import Unit
from store.views import Person
from store.vocabulary import Refusal, Refused


@dataclass(frozen=True)
class Supervising:
    """A supervisor in their department's room: whose lists they may change, and who
    they are (the agent's id, recorded as the author of the change)."""

    department: Department
    agent_id: int


async def room(tx: Unit, channel_id: str) -> Department | None:
    """The department whose room is the channel (the oldest, should two claim it)."""
    return await tx.session.scalar(
        select(Department).where(Department.channel_id == channel_id).order_by(Department.id)
    )


async def check_supervisor(tx: Unit, person: Person, channel_id: str) -> Supervising | Refused:
    """The room's department if ``person`` supervises it; else why not."""
    agent = await people.agent(tx, person)
    department = await room(tx, channel_id)
    if department is None:
        return Refused(Refusal.NOT_A_ROOM)
    supervises = await tx.session.scalar(
        select(Supervisor.id).where(
            Supervisor.department_id == department.id, Supervisor.agent_id == agent.id
        )
    )
    if supervises is None:
        return Refused(Refusal.NOT_SUPERVISOR, department=department.name)
    return Supervising(department, agent.id)


async def hold_department(tx: Unit, department_id: int) -> None:
    """Write the department's row (changing nothing), so that changes of its supervisors
    take turns on PostgreSQL until the unit ends.

    "Another supervisor remains" is a fact about other rows, which no unique constraint
    can hold: two supervisors removing each other at once on two replicas would each
    see the other still there and leave the department with none. Held here first, the
    count or ``EXISTS`` that follows is read by a new statement, after the other change
    committed (SQLite's writes are one at a time anyway).
    """
    await tx.session.execute(
        update(Department)
        .where(Department.id == department_id)
        .values(id=Department.id)
        .execution_options(synchronize_session=False)
    )


def in_chat_or_supervising(agent_id: int) -> tuple[Exists, Exists]:
    """Conditions on ``Chat`` for a WHERE: the agent is a current participant of the chat,
    and the agent supervises its department."""
    takes_part = exists().where(
        Participant.chat_id == Chat.id,
        Participant.agent_id == agent_id,
        Participant.left_at.is_(None),
    )
    supervises = exists().where(
        Supervisor.agent_id == agent_id, Supervisor.department_id == Chat.department_id
    )
    return takes_part, supervises
