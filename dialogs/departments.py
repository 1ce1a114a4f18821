"""Room commands about the department's team: ``capacity``, ``timezone`` and ``who``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from cards.departments import AVAILABILITY_KEYS
from cards.markdown import mention_markup, message_text
from cards.times import valid_zone
from dialogs.activity import person_of
from dialogs.context import FlowContext
from dialogs.replies import Mention, text_activity, to_conversation
from dialogs.turn import Turn
from store import availability, departments
from store.availability import Roster
from store.departments import CapacitySet, TimeZoneSet
from store.outbox import Outgoing
from store.unit import Unit
from store.views import Person
from store.vocabulary import Refusal, Refused

log = logging.getLogger(__name__)

Done = TypeVar("Done")
DepartmentChange = Callable[[Unit, int, int], Awaitable[CapacitySet | TimeZoneSet | Refused]]

MAX_CAPACITY = 1000


def _reply(turn: Turn, text: str) -> list[Outgoing]:
    """An answer where the agent wrote, @mentioning them."""
    mention = Mention(turn.person)
    return [to_conversation(turn.reference, text_activity(text, mentions=(mention,)))]


def notify_setting(
    ctx: FlowContext, turn: Turn, outcome: CapacitySet | TimeZoneSet | Refused
) -> list[Outgoing]:
    """The department's new capacity or time zone, or why it was not changed."""
    t = ctx.team_texts
    markup = mention_markup(turn.person)
    if isinstance(outcome, Refused) and outcome.reason == Refusal.NOT_A_ROOM:
        return _reply(turn, t("agent.not_a_room", mention=markup))
    if isinstance(outcome, Refused):
        return _reply(turn, t("agent.capacity_refused", mention=markup))
    if isinstance(outcome, TimeZoneSet):
        shown = outcome.zone or ctx.time_zone
        department = message_text(outcome.department)
        text = t("agent.time_zone_set", mention=markup, department=department, zone=shown)
        return _reply(turn, text)
    if outcome.capacity is None:
        department = message_text(outcome.department)
        text = t("agent.capacity_unlimited", mention=markup, department=department)
    else:
        text = t(
            "agent.capacity_set",
            mention=markup,
            department=message_text(outcome.department),
            capacity=outcome.capacity,
        )
    return _reply(turn, text)


async def capacity(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot capacity <n>`` by a supervisor in the room: at most n open chats per agent
    (0: no limit)."""
    person = turn.person
    word = turn.argument.strip()
    keys = turn.keys
    if not word.isdigit() or int(word) > MAX_CAPACITY:
        text = ctx.team_texts("agent.capacity_usage", mention=mention_markup(person))
        await ctx.store.notify(keys, _reply(turn, text))
        return
    limit = int(word) or None
    await _change_department(ctx, turn, partial(departments.do_set_capacity, capacity=limit))


async def time_zone(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot timezone <IANA name>`` by a supervisor in the room: the department's
    transcripts show their times there (``timezone default``: the bridge's TIME_ZONE)."""
    person = turn.person
    word = turn.argument.strip()
    keys = turn.keys
    zone = None if word.lower() == "default" else word
    if not word or (zone is not None and not valid_zone(zone)):
        markup = mention_markup(person)
        text = ctx.team_texts("agent.time_zone_usage", mention=markup, example="Asia/Ho_Chi_Minh")
        await ctx.store.notify(keys, _reply(turn, text))
        return
    await _change_department(ctx, turn, partial(departments.do_set_time_zone, zone=zone))


async def _change_department(ctx: FlowContext, turn: Turn, change: DepartmentChange) -> None:
    await change_department(ctx, turn, change, notify_setting)


async def change_department(
    ctx: FlowContext,
    turn: Turn,
    change: Callable[[Unit, int, int], Awaitable[Done | Refused]],
    notify: Callable[[FlowContext, Turn, Done | Refused], list[Outgoing]],
) -> None:
    """A setting of the room's department, changed by one of its supervisors: the room's
    department and the person's agent row read (``check_room``), then the one ``do_*`` of
    the change, which holds the supervisor check in its WHERE, and ``notify`` of what it
    answered; once per inbound activity."""
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        found = await departments.check_room(tx, turn.person, turn.room)
        if isinstance(found, Refused):
            done: Done | Refused = found
        else:
            room, agent = found
            done = await change(tx, room.id, agent.id)
        tx.enqueue(notify(ctx, turn, done))


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
        person_of({"from": member})
        for member in members
        if member.get("id") and member.get("id") != turn.bot_id
    )


def notify_roster(ctx: FlowContext, turn: Turn, roster: Roster | Refused) -> list[Outgoing]:
    """The room's agents, their availability and open chats, as one message."""
    t = ctx.team_texts
    if isinstance(roster, Refused):
        return _reply(turn, t("agent.not_a_room", mention=mention_markup(turn.person)))
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
