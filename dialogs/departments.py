"""Room commands about the department's team: ``capacity``, ``timezone`` and ``who``."""

from __future__ import annotations

import logging
from typing import Any

from cards.departments import mention_markup
from cards.times import valid_zone
from dialogs.activity import activity_keys, channel_of, field, person_of, reference_of, team_of
from dialogs.context import FlowContext
from dialogs.replies import Mention, text_activity, to_conversation
from store import availability, departments
from store.availability import Roster
from store.departments import CapacitySet, NotARoom, NotSupervisor, TimeZoneSet
from store.outbox import Outgoing
from store.views import Person

log = logging.getLogger(__name__)

MAX_CAPACITY = 1000


def _reply(activity: dict[str, Any], text: str) -> list[Outgoing]:
    """An answer where the agent wrote, @mentioning them."""
    mention = Mention(person_of(activity))
    return [to_conversation(reference_of(activity), text_activity(text, mentions=(mention,)))]


def notify_setting(
    ctx: FlowContext,
    activity: dict[str, Any],
    outcome: CapacitySet | TimeZoneSet | NotSupervisor | NotARoom,
) -> list[Outgoing]:
    """The department's new capacity or time zone, or why it was not changed."""
    t = ctx.team_texts
    markup = mention_markup(person_of(activity))
    if isinstance(outcome, NotARoom):
        return _reply(activity, t("agent.not_a_room", mention=markup))
    if isinstance(outcome, NotSupervisor):
        return _reply(activity, t("agent.capacity_refused", mention=markup))
    if isinstance(outcome, TimeZoneSet):
        shown = outcome.zone or ctx.time_zone
        text = t("agent.time_zone_set", mention=markup, department=outcome.department, zone=shown)
        return _reply(activity, text)
    if outcome.capacity is None:
        text = t("agent.capacity_unlimited", mention=markup, department=outcome.department)
    else:
        text = t(
            "agent.capacity_set",
            mention=markup,
            department=outcome.department,
            capacity=outcome.capacity,
        )
    return _reply(activity, text)


async def capacity(ctx: FlowContext, activity: dict[str, Any], argument: str) -> None:
    """``@Bot capacity <n>`` by a supervisor in the room: at most n open chats per agent
    (0: no limit)."""
    person = person_of(activity)
    word = argument.strip()
    keys = activity_keys(activity)
    if not word.isdigit() or int(word) > MAX_CAPACITY:
        text = ctx.team_texts("agent.capacity_usage", mention=mention_markup(person))
        await ctx.store.notify(keys, _reply(activity, text))
        return
    async with ctx.store.unit() as tx:
        if not await tx.first_time(keys):
            return
        done = await departments.do_set_capacity(
            tx, person, channel_of(activity), int(word) or None
        )
        tx.enqueue(notify_setting(ctx, activity, done))


async def time_zone(ctx: FlowContext, activity: dict[str, Any], argument: str) -> None:
    """``@Bot timezone <IANA name>`` by a supervisor in the room: the department's
    transcripts show their times there (``timezone default``: the bridge's TIME_ZONE)."""
    person = person_of(activity)
    word = argument.strip()
    keys = activity_keys(activity)
    zone = None if word.lower() == "default" else word
    if not word or (zone is not None and not valid_zone(zone)):
        markup = mention_markup(person)
        text = ctx.team_texts("agent.time_zone_usage", mention=markup, example="Asia/Ho_Chi_Minh")
        await ctx.store.notify(keys, _reply(activity, text))
        return
    async with ctx.store.unit() as tx:
        if not await tx.first_time(keys):
            return
        done = await departments.do_set_time_zone(tx, person, channel_of(activity), zone)
        tx.enqueue(notify_setting(ctx, activity, done))


async def _team(ctx: FlowContext, activity: dict[str, Any]) -> tuple[Person, ...]:
    """The team's members from the Bot Connector's members API.

    Best effort: without an answer, ``who`` still lists the members recorded when
    they acted in the room.
    """
    service_url = activity.get("serviceUrl")
    team = team_of(activity) or channel_of(activity)
    if not isinstance(service_url, str):
        return ()
    try:
        members = await ctx.directory.members(service_url, team)
    except Exception:
        log.warning("the roster of team %s could not be read", team, exc_info=True)
        return ()
    bot_id = field(activity, "recipient").get("id")
    return tuple(
        person_of({"from": member})
        for member in members
        if member.get("id") and member.get("id") != bot_id
    )


def notify_roster(
    ctx: FlowContext, activity: dict[str, Any], roster: Roster | NotARoom
) -> list[Outgoing]:
    """The room's agents, their availability and open chats, as one message."""
    t = ctx.team_texts
    if isinstance(roster, NotARoom):
        return _reply(activity, t("agent.not_a_room", mention=mention_markup(person_of(activity))))
    lines = "\n".join(
        t(
            "agent.who_line",
            name=line.name,
            availability=t(f"availability.{line.availability.value}"),
            open=line.open_chats,
        )
        for line in roster.agents
    )
    if roster.capacity is not None:
        text = t("agent.who", department=roster.department, capacity=roster.capacity, lines=lines)
    else:
        text = t("agent.who_unlimited", department=roster.department, lines=lines)
    return [to_conversation(reference_of(activity), text_activity(text))]


async def who(ctx: FlowContext, activity: dict[str, Any]) -> None:
    """``@Bot who``: the room's agents, their availability and how many chats they own."""
    team = await _team(ctx, activity)
    async with ctx.store.unit() as tx:
        if not await tx.first_time(activity_keys(activity)):
            return
        roster = await availability.do_roster(tx, person_of(activity), channel_of(activity), team)
        tx.enqueue(notify_roster(ctx, activity, roster))
