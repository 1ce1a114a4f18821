"""Routing flows: the request card with its @mentions, the customer's choice of
department, moving a chat, capacity, ``who``, and announcing unanswered chats."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from cards.departments import (
    department_choice,
    mention_markup,
    with_mentions,
    with_note,
)
from cards.request import card_activity, format_duration
from cards.times import valid_zone
from dialogs.activity import (
    activity_keys,
    channel_of,
    field,
    person_of,
    reference_of,
    team_of,
    thread_of,
)
from dialogs.chatcards import chat_card, chat_card_activity
from dialogs.context import FlowContext
from dialogs.i18n import Texts
from dialogs.replies import (
    Mention,
    card_update,
    new_thread,
    text_activity,
    to_conversation,
    to_customer,
    to_thread,
)
from store.audience import Audience
from store.core import ChatView, NoSuchChat, Person
from store.outbox import Outgoing
from store.routing import CapacitySet, Roster

log = logging.getLogger(__name__)

MAX_CAPACITY = 1000


def _mentions_text(people: tuple[Person, ...]) -> str:
    return ", ".join(mention_markup(p) for p in people)


def _unique(people: tuple[Person, ...]) -> tuple[Person, ...]:
    seen: dict[str, Person] = {}
    for p in people:
        seen.setdefault(p.teams_id, p)
    return tuple(seen.values())


def announced_card(ctx: FlowContext, chat: ChatView, audience: Audience) -> dict[str, Any]:
    """The request card as first posted: online agents @mentioned (or a note that nobody
    is online), and for a returning customer their earlier chats."""
    t = ctx.team_texts
    # A chat just opened is viewed without queries; its history comes with the audience.
    chat = replace(
        chat,
        earlier_chats=audience.earlier_chats,
        earlier_owner=audience.last_owner,
        supervisors=tuple(p.teams_id for p in audience.supervisors),
    )
    card = chat_card(ctx, chat)
    if audience.back_at is not None:
        card = with_note(card, t("card.outside_hours", when=back_text(audience.back_at)))
    if audience.online:
        return with_mentions(
            card, t("card.online_agents", mentions=_mentions_text(audience.online)), audience.online
        )
    return with_note(card, t("card.nobody_online"))


def post_request(
    ctx: FlowContext, chat: ChatView, audience: Audience, previous: ChatView | None
) -> list[Outgoing]:
    """Post the chat's card as a new thread in its room; a card it had in another room is
    updated to say where it went."""
    assert chat.room_reference is not None
    t = ctx.team_texts
    items = []
    if previous is not None:
        moved = t("card.moved", department=chat.department)
        old = chat_card(ctx, previous, note=moved)
        # Accept belongs to the new card only; nobody has a view of their own here any more.
        old.pop("actions", None)
        old.pop("refresh", None)
        items.append(card_update(chat.id, card_activity(old, moved)))
    card = announced_card(ctx, chat, audience)
    items.append(new_thread(chat.id, chat.room_reference, chat_card_activity(ctx, card, chat)))
    return items


def back_text(at: datetime) -> str:
    """When a team is back, as customers and agents read it: its own date, time and zone."""
    return f"{at:%d/%m/%Y %H:%M} ({at.tzinfo})"


def customer_notice(chat: ChatView, audience: Audience, t: Texts, name: str) -> dict[str, Any]:
    """Honest about who is there: outside business hours, when the team is back; else an
    acknowledgement, or that nobody is online now."""
    if audience.back_at is not None:
        when = back_text(audience.back_at)
        return text_activity(t("customer.outside_hours", name=name, when=when))
    if audience.online:
        return text_activity(t("customer.ack", name=name))
    return text_activity(t("customer.nobody_online", name=name, department=chat.department))


def choice_prompt(audience: Audience, t: Texts, name: str, channel: str = "") -> dict[str, Any]:
    return department_choice(
        audience.departments,
        t("customer.choose_department", name=name),
        t("customer.choose_department_hint"),
        channel,
        t("customer.choose_button"),
    )


def match_department(text: str, departments: tuple[tuple[str, str], ...]) -> str | None:
    """The key of the department a customer's word names (a suggested action's value)."""
    wanted = text.strip().casefold()
    for key, name in departments:
        if wanted in (name.casefold(), key):
            return key
    return None


def waiting_notice(chat: ChatView, people: tuple[Person, ...], text: str) -> Outgoing:
    mentions = tuple(Mention(p) for p in people)
    return to_thread(chat.id, text_activity(text, mentions=mentions))


async def announce_unanswered(ctx: FlowContext) -> int:
    """The timer job: chats nobody accepted in time are announced again in their thread
    (online agents and supervisors @mentioned), and the customer hears their place."""
    t = ctx.team_texts

    def compose(chat: ChatView, audience: Audience) -> list[Outgoing]:
        if chat.held:
            # A chat held back by the intake limits: its card is posted now.
            return post_request(ctx, chat, audience, None)
        people = _unique(audience.online + audience.supervisors)
        waited = format_duration(ctx.store.clock() - chat.created_at, t)
        text = t("agent.unanswered", mentions=_mentions_text(people), waited=waited)
        customer_t = ctx.customer_texts(chat.customer_locale)
        position = customer_t(
            "customer.still_waiting", position=audience.position, department=chat.department
        )
        return [
            waiting_notice(chat, people, text),
            to_customer(chat, text_activity(position)),
        ]

    return await ctx.store.announce_unanswered(compose)


def came_online(ctx: FlowContext, person: Person, chat: ChatView) -> list[Outgoing]:
    """An agent came online: each chat waiting in their departments @mentions them."""
    text = ctx.team_texts("agent.chat_waiting", mention=mention_markup(person))
    return [waiting_notice(chat, (person,), text)]


def _reply(activity: dict[str, Any], text: str, person: Person) -> list[Outgoing]:
    mention = Mention(person)
    return [to_conversation(reference_of(activity), text_activity(text, mentions=(mention,)))]


async def move(ctx: FlowContext, activity: dict[str, Any], argument: str) -> None:
    """``/move <Department>`` in a waiting chat's thread, by a supervisor."""
    person = person_of(activity)
    t = ctx.team_texts
    thread = thread_of(activity)
    markup = mention_markup(person)
    if thread is None or not argument.strip():
        await ctx.store.notify(
            activity_keys(activity), _reply(activity, t("agent.move_usage", mention=markup), person)
        )
        return

    def on_unknown(known: tuple[tuple[str, str], ...]) -> list[Outgoing]:
        names = ", ".join(name for _, name in known)
        text = t("agent.unknown_department", mention=markup, department=argument, known=names)
        return _reply(activity, text, person)

    outcome = await ctx.store.move_chat(
        thread,
        person,
        argument,
        activity_keys(activity),
        on_moved=lambda chat, audience, previous: post_request(ctx, chat, audience, previous),
        on_refused=lambda chat: _reply(activity, t("agent.move_refused", mention=markup), person),
        on_unknown=on_unknown,
    )
    if isinstance(outcome, NoSuchChat):
        await ctx.store.notify(
            activity_keys(activity), _reply(activity, t("agent.no_chat", mention=markup), person)
        )


async def capacity(ctx: FlowContext, activity: dict[str, Any], argument: str) -> None:
    """``@Bot capacity <n>`` by a supervisor in the room: at most n open chats per agent
    (0: no limit)."""
    person = person_of(activity)
    t = ctx.team_texts
    markup = mention_markup(person)
    word = argument.strip()
    if not word.isdigit() or int(word) > MAX_CAPACITY:
        await ctx.store.notify(
            activity_keys(activity),
            _reply(activity, t("agent.capacity_usage", mention=markup), person),
        )
        return
    limit = int(word) or None

    def on_set(done: CapacitySet) -> list[Outgoing]:
        if done.capacity is None:
            text = t("agent.capacity_unlimited", mention=markup, department=done.department)
        else:
            text = t(
                "agent.capacity_set",
                mention=markup,
                department=done.department,
                capacity=done.capacity,
            )
        return _reply(activity, text, person)

    await ctx.store.set_capacity(
        person,
        channel_of(activity),
        limit,
        activity_keys(activity),
        on_set=on_set,
        on_not_room=lambda: _reply(activity, t("agent.not_a_room", mention=markup), person),
        on_refused=lambda: _reply(activity, t("agent.capacity_refused", mention=markup), person),
    )


async def time_zone(ctx: FlowContext, activity: dict[str, Any], argument: str) -> None:
    """``@Bot timezone <IANA name>`` by a supervisor in the room: the department's
    transcripts show their times there (``timezone default``: the bridge's TIME_ZONE)."""
    person = person_of(activity)
    t = ctx.team_texts
    markup = mention_markup(person)
    word = argument.strip()
    zone = None if word.lower() == "default" else word
    if not word or (zone is not None and not valid_zone(zone)):
        text = t("agent.time_zone_usage", mention=markup, example="Asia/Ho_Chi_Minh")
        await ctx.store.notify(activity_keys(activity), _reply(activity, text, person))
        return

    def on_set(department: str) -> list[Outgoing]:
        shown = zone or ctx.time_zone
        text = t("agent.time_zone_set", mention=markup, department=department, zone=shown)
        return _reply(activity, text, person)

    await ctx.store.set_time_zone(
        person,
        channel_of(activity),
        zone,
        activity_keys(activity),
        on_set=on_set,
        on_not_room=lambda: _reply(activity, t("agent.not_a_room", mention=markup), person),
        on_refused=lambda: _reply(activity, t("agent.capacity_refused", mention=markup), person),
    )


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


async def who(ctx: FlowContext, activity: dict[str, Any]) -> None:
    """``@Bot who``: the room's agents, their availability and how many chats they own."""
    person = person_of(activity)
    t = ctx.team_texts

    def compose(roster: Roster | None) -> list[Outgoing]:
        if roster is None:
            text = t("agent.not_a_room", mention=mention_markup(person))
            return _reply(activity, text, person)
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
            text = t(
                "agent.who", department=roster.department, capacity=roster.capacity, lines=lines
            )
        else:
            text = t("agent.who_unlimited", department=roster.department, lines=lines)
        return [to_conversation(reference_of(activity), text_activity(text))]

    await ctx.store.roster(
        person,
        channel_of(activity),
        activity_keys(activity),
        compose=compose,
        team=await _team(ctx, activity),
    )
