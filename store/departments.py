"""Department settings a supervisor changes from the room: capacity and time zone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, update

from store import access, people
from store.models import Agent, Department, Supervisor
from store.unit import Unit
from store.views import Person
from store.vocabulary import Refusal, Refused


@dataclass(frozen=True)
class CapacitySet:
    department: str
    capacity: int | None


@dataclass(frozen=True)
class AssignmentSet:
    department: str
    mode: str  # one of ``store.assignment.MODES``


@dataclass(frozen=True)
class TimeZoneSet:
    department: str
    zone: str | None  # None: the bridge's TIME_ZONE


async def check_room(
    tx: Unit, person: Person, channel_id: str
) -> tuple[Department, Agent] | Refused:
    """The department whose room the channel is, and the person's agent row: where a
    supervisor's change made from a room starts. A channel that is no room is refused
    before the person is recorded as an agent."""
    room = await access.room(tx, channel_id)
    if room is None:
        return Refused(Refusal.NOT_A_ROOM)
    return room, await people.agent(tx, person)


async def do_set_capacity(
    tx: Unit, person: Person, channel_id: str, capacity: int | None
) -> CapacitySet | Refused:
    """A supervisor of the room's department sets how many chats an agent may own."""
    done = await _set_department(tx, person, channel_id, {"capacity": capacity})
    return CapacitySet(done, capacity) if isinstance(done, str) else done


async def do_set_assignment(
    tx: Unit, person: Person, channel_id: str, mode: str
) -> AssignmentSet | Refused:
    """A supervisor chooses how the room's department hands out new chats: broadcast to
    every online agent, or offered to one (round robin, or the least loaded)."""
    done = await _set_department(tx, person, channel_id, {"assignment": mode})
    return AssignmentSet(done, mode) if isinstance(done, str) else done


async def do_set_time_zone(
    tx: Unit, person: Person, channel_id: str, zone: str | None
) -> TimeZoneSet | Refused:
    """A supervisor gives the room's department a time zone of its own (None: the
    bridge's ``TIME_ZONE``); its transcripts show their times in it."""
    done = await _set_department(tx, person, channel_id, {"time_zone": zone})
    return TimeZoneSet(done, zone) if isinstance(done, str) else done


async def _set_department(
    tx: Unit, person: Person, channel_id: str, values: dict[str, Any]
) -> str | Refused:
    """Change a setting of the room's department, by one of its supervisors only (both
    in the UPDATE's WHERE); the department's name when it was changed."""
    found = await check_room(tx, person, channel_id)
    if isinstance(found, Refused):
        return found
    room, agent = found
    result = await tx.session.execute(
        update(Department)
        .where(
            Department.channel_id == channel_id,
            exists().where(
                Supervisor.agent_id == agent.id, Supervisor.department_id == Department.id
            ),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return room.name if result.rowcount == 1 else Refused(Refusal.NOT_SUPERVISOR)
