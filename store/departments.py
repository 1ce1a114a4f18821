"""Department settings a supervisor changes (from the room or the console): capacity, time
zone, assignment, names, and whether the company's bot answers first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select, update

from store import access, audit, people
from store.models import Agent, Department, Tag
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
class TargetsSet:
    """The department's response-time targets in seconds (None: that target is off)."""

    department: str
    first: int | None
    next: int | None


@dataclass(frozen=True)
class FirstBotSet:
    department: str
    on: bool


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
    tx: Unit, department_id: int, agent_id: int, capacity: int | None
) -> CapacitySet | Refused:
    """A supervisor sets how many chats an agent of the department may own (None: the
    policy's), from the room or the console alike."""
    done = await _set_department(tx, department_id, agent_id, "capacity", capacity)
    return CapacitySet(done, capacity) if isinstance(done, str) else done


async def do_set_assignment(
    tx: Unit, department_id: int, agent_id: int, mode: str
) -> AssignmentSet | Refused:
    """A supervisor chooses how the department hands out new chats (from the room or the
    console alike): broadcast to every online agent, or offered to one (round robin, or
    the least loaded)."""
    done = await _set_department(tx, department_id, agent_id, "assignment", mode)
    return AssignmentSet(done, mode) if isinstance(done, str) else done


async def do_set_targets(
    tx: Unit, department_id: int, agent_id: int, first: int | None, next_: int | None
) -> TargetsSet | Refused:
    """A supervisor sets the department's response-time targets (from the room or the
    console alike), in business seconds: the first answer, and the next one while the
    customer waits (None: off). Waits already running keep the deadline they began with."""
    values = {"first_response_target": first, "next_response_target": next_}
    done = await _set_department(tx, department_id, agent_id, "targets", values)
    return TargetsSet(done, first, next_) if isinstance(done, str) else done


async def do_set_first_bot(
    tx: Unit, department_id: int, agent_id: int, on: bool
) -> FirstBotSet | Refused:
    """A supervisor lets the company's bot answer the department's new chats first (or
    stops it), from the room or the console alike; chats already open keep their way."""
    done = await _set_department(tx, department_id, agent_id, "first_bot", on)
    return FirstBotSet(done, on) if isinstance(done, str) else done


async def do_set_time_zone(
    tx: Unit, department_id: int, agent_id: int, zone: str | None
) -> TimeZoneSet | Refused:
    """A supervisor gives the department a time zone of its own (None: the bridge's
    ``TIME_ZONE``); its transcripts show their times in it."""
    done = await _set_department(tx, department_id, agent_id, "time_zone", zone)
    return TimeZoneSet(done, zone) if isinstance(done, str) else done


async def do_set_names(
    tx: Unit, department_id: int, agent_id: int, names: dict[str, str]
) -> str | Refused:
    """A supervisor names the department in each customer language (none: its own name
    everywhere); customers read it in their notices and the department question."""
    return await _set_department(tx, department_id, agent_id, "names", names or None)


@dataclass(frozen=True)
class PriorityTagMissing:
    """The queue's priority names a tag the department does not have (never listed, or
    removed while the supervisor chose it): nothing was changed."""

    tag: str


async def do_set_queue_priority(
    tx: Unit, department_id: int, agent_id: int, tag: str | None, *, returning: bool
) -> str | PriorityTagMissing | Refused:
    """A supervisor says which queued chats go first: those carrying ``tag`` (None: no
    tag), and those of returning customers; first come, first served within each.

    The tag must be one of the department's, in the UPDATE's own WHERE: a read before it
    would let a tag removed in between leave a priority that names no tag. On PostgreSQL
    the tag's row is share-locked by that EXISTS, so a removal under way is waited for
    (and then seen gone) and one that comes later waits for this change to commit."""
    also = {"queue_returning": returning}
    listed = None
    if tag is not None:
        listed = exists(
            select(Tag.id)
            .where(Tag.department_id == department_id, Tag.name == tag)
            .with_for_update(read=True)
        )
    done = await _set_department(
        tx, department_id, agent_id, "queue_priority_tag", tag, also, where=listed
    )
    if isinstance(done, Refused) and tag is not None:
        return await audit.unless_supervising(tx, department_id, agent_id) or PriorityTagMissing(
            tag
        )
    return done


async def _set_department(
    tx: Unit,
    department_id: int,
    agent_id: int,
    column: str,
    value: Any,
    also: dict[str, Any] | None = None,
    *,
    where: Any = None,
) -> str | Refused:
    """Change one setting of a department, by one of its supervisors only (both in the
    UPDATE's WHERE), recorded in the audit; the department's name when it was changed.
    ``column`` names the change; a dict ``value`` sets several columns at once, as does
    ``also`` beside ``column``; ``where``: a further precondition of the change (nothing
    changed without it: the caller tells why)."""
    values = value if isinstance(value, dict) and column == "targets" else {column: value}
    values = {**values, **(also or {})}
    held = [audit.supervises(Department.id, agent_id)] + ([] if where is None else [where])
    name = await tx.session.scalar(
        update(Department)
        .where(Department.id == department_id, *held)
        .values(values)
        .returning(Department.name)
        .execution_options(synchronize_session=False)
    )
    if name is None:
        return Refused(Refusal.NOT_SUPERVISOR)
    audit.record(tx, department_id, agent_id, column, values)
    return name
