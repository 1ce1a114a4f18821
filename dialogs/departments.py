"""Room commands about the department's team: ``capacity``, ``timezone`` and ``who``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from cards.departments import AVAILABILITY_KEYS
from cards.markdown import message_text
from cards.times import valid_zone
from dialogs.activity import account_person
from dialogs.context import FlowContext
from dialogs.notices import mention_answer, mention_reply, setting_refused
from dialogs.replies import text_activity, to_conversation
from dialogs.turn import Turn
from store import availability, departments
from store.availability import Roster
from store.departments import CapacitySet, TimeZoneSet
from store.outbox import Outgoing
from store.unit import Unit
from store.views import Person
from store.vocabulary import Refused

log = logging.getLogger(__name__)

DepartmentChange = Callable[[Unit, int, int], Awaitable[Any]]
# What the room is told of a department change's outcome (a ``*Set`` or a refusal).
NotifyChange = Callable[[FlowContext, Turn, Any], list[Outgoing]]

MAX_CAPACITY = 1000


def notify_setting(
    ctx: FlowContext, turn: Turn, outcome: CapacitySet | TimeZoneSet | Refused
) -> list[Outgoing]:
    """The department's new capacity or time zone, or why it was not changed."""
    if isinstance(outcome, Refused):
        return setting_refused(ctx, turn, outcome, "agent.capacity_refused")
    department = message_text(outcome.department)
    if isinstance(outcome, TimeZoneSet):
        zone = outcome.zone or ctx.time_zone
        return [mention_answer(ctx, turn, "agent.time_zone_set", department=department, zone=zone)]
    if outcome.capacity is None:
        return [mention_answer(ctx, turn, "agent.capacity_unlimited", department=department)]
    capacity = outcome.capacity
    return [
        mention_answer(ctx, turn, "agent.capacity_set", department=department, capacity=capacity)
    ]


async def capacity(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot capacity <n>`` by a supervisor in the room: at most n open chats per agent
    (0: no limit)."""
    word = turn.argument.strip()
    if not word.isdigit() or int(word) > MAX_CAPACITY:
        await mention_reply(ctx, turn, "agent.capacity_usage")
        return
    limit = int(word) or None
    await change_department(ctx, turn, partial(departments.do_set_capacity, capacity=limit))


async def time_zone(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot timezone <IANA name>`` by a supervisor in the room: the department's
    transcripts show their times there (``timezone default``: the bridge's TIME_ZONE)."""
    word = turn.argument.strip()
    zone = None if word.lower() == "default" else word
    if not word or (zone is not None and not valid_zone(zone)):
        await mention_reply(ctx, turn, "agent.time_zone_usage", example="Asia/Ho_Chi_Minh")
        return
    await change_department(ctx, turn, partial(departments.do_set_time_zone, zone=zone))


async def change_department(
    ctx: FlowContext, turn: Turn, change: DepartmentChange, notify: NotifyChange | None = None
) -> None:
    """A setting of the room's department, changed by one of its supervisors: the room's
    department and the person's agent row read (``check_room``), then the one ``do_*`` of
    the change, which holds the supervisor check in its WHERE; once per inbound activity.
    ``notify`` says the outcome in the room (capacity and time zone: ``notify_setting``)."""
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        found = await departments.check_room(tx, turn.person, turn.room)
        if isinstance(found, Refused):
            done: Any = found
        else:
            room, agent = found
            done = await change(tx, room.id, agent.id)
        tx.enqueue((notify or notify_setting)(ctx, turn, done))


async def _team(ctx: FlowContext, turn: Turn) -> tuple[Person, ...]:
    """The team's members from the Bot Connector's members API.

    Best effort: without an answer, ``who`` still lists the members recorded when
    they acted in the room.
    """
    service_url = turn.service_url
    team = turn.team or turn.room
    if service_url is None:
        return ()
    try:
        members = await ctx.directory.members(service_url, team)
    except Exception:
        log.warning("the roster of team %s could not be read", team, exc_info=True)
        return ()
    return tuple(
        account_person(member)
        for member in members
        if member.get("id") and member.get("id") != turn.bot_id
    )


def notify_roster(ctx: FlowContext, turn: Turn, roster: Roster | Refused) -> list[Outgoing]:
    """The room's agents, their availability and open chats, as one message."""
    t = ctx.team_texts
    if isinstance(roster, Refused):
        return [mention_answer(ctx, turn, "agent.not_a_room")]
    lines = "\n".join(
        t(
            "agent.who_line",
            name=message_text(line.name),
            availability=t(AVAILABILITY_KEYS[line.availability]),
            open=line.open_chats,
        )
        for line in roster.agents
    )
    department = message_text(roster.department)
    if roster.capacity is not None:
        text = t("agent.who", department=department, capacity=roster.capacity, lines=lines)
    else:
        text = t("agent.who_unlimited", department=department, lines=lines)
    return [to_conversation(turn.reference, text_activity(text))]


async def who(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot who``: the room's agents, their availability and how many chats they own."""
    team = await _team(ctx, turn)
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        roster = await availability.do_roster(tx, turn.person, turn.room, team)
        tx.enqueue(notify_roster(ctx, turn, roster))
