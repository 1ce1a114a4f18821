"""Automatic assignment's flows: a new chat offered to one agent (or queued), the offer
moving on when it runs out, the queue's head offered when a seat frees, the customers
told their place, and the supervisors' ``assignment`` command.

A new chat is offered in the unit that posts its card; the queue moves in a unit of
its own after the one that freed a seat (a chat closed, an agent came online).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

from cards.markdown import card_text, message_text
from dialogs.chatcards import chat_card, chat_card_activity
from dialogs.context import FlowContext
from dialogs.notices import mention_answer, mention_reply, setting_refused
from dialogs.replies import (
    Mention,
    card_update,
    text_activity,
    to_customer,
    to_thread,
)
from dialogs.turn import Turn
from store import assignment, departments
from store.assignment import Assigned, Placement, Queued
from store.departments import AssignmentSet
from store.outbox import Outgoing
from store.unit import Unit
from store.vocabulary import Refused


def seconds_of(ctx: FlowContext) -> int:
    """The offer's time as agents read it, in whole seconds."""
    return max(1, math.ceil(ctx.store.policy.assignment_offer.total_seconds()))


def estimate_minutes(wait: timedelta) -> int:
    """A wait as people say it: whole minutes, at least one, and past ten minutes to the
    nearest five (an estimate, not a promise to the minute)."""
    minutes = max(1, round(wait.total_seconds() / 60))
    return minutes if minutes <= 10 else 5 * round(minutes / 5)


def queue_text(ctx: FlowContext, outcome: Queued) -> str:
    """What a queued customer reads: their place, and about how long when it can be said."""
    chat = outcome.chat
    t = ctx.customer_texts(chat.customer_locale)
    key = "customer.queued" if outcome.first else "customer.queue_moved"
    text = t(key, position=outcome.position, department=message_text(chat.department))
    if outcome.estimate is None:
        return text
    minutes = estimate_minutes(outcome.estimate)
    if minutes == 1:
        return f"{text} {t('customer.queue_estimate_one')}"
    return f"{text} {t('customer.queue_estimate', minutes=minutes)}"


def notify_placement(ctx: FlowContext, placed: Sequence[Placement]) -> list[Outgoing]:
    """The chosen agent is @mentioned in the thread and the card says whose the chat
    is; a queued customer hears their place (the first time, with why they wait)."""
    t = ctx.team_texts
    items: list[Outgoing] = []
    for outcome in placed:
        chat = outcome.chat
        if isinstance(outcome, Assigned):
            seconds = seconds_of(ctx)
            mention = Mention(outcome.agent)
            text = t("agent.assigned", mention=mention.markup, seconds=seconds)
            note = t("card.assigned", agent=card_text(outcome.agent.name), seconds=seconds)
            card = chat_card(ctx, chat, note=note)
            items += [
                card_update(chat.id, chat_card_activity(ctx, card, chat)),
                to_thread(chat.id, text_activity(text, mentions=(mention,))),
            ]
            if outcome.from_queue:
                turn = ctx.customer_texts(chat.customer_locale)("customer.queue_turn")
                items.append(to_customer(chat, text_activity(turn)))
            continue
        items.append(to_customer(chat, text_activity(queue_text(ctx, outcome))))
        if outcome.first:
            note = t("card.queued", position=outcome.position)
            card = chat_card(ctx, chat, note=note)
            items.append(card_update(chat.id, chat_card_activity(ctx, card, chat)))
    return items


async def assign_chat(ctx: FlowContext, tx: Unit, chat_id: int) -> None:
    """A chat whose card this unit posts: in an automatic department, offer it or queue
    it in the same transaction (broadcast costs one read of the department)."""
    placed = await assignment.do_assign(tx, chat_id)
    outcomes = [placed] if placed is not None else []
    tx.enqueue(notify_placement(ctx, outcomes))


async def offer_waiting(ctx: FlowContext, teams_id: str | None) -> None:
    """A seat of this agent may be free: the queues of their departments move."""
    if teams_id is None:
        return
    async with ctx.store.unit() as tx:
        placed = await assignment.do_offer_waiting(tx, teams_id)
        tx.enqueue(notify_placement(ctx, placed))


async def expire_assignments(ctx: FlowContext) -> int:
    """The timer job: offers whose time ran out move to the next agent, each in its own
    unit (the timers fire it only when something is due: ``routing.next_timer``)."""
    async with ctx.store.reading() as tx:
        due = await assignment.due_offers(tx)
    moved = 0
    for chat_id in due:
        async with ctx.store.unit() as tx:
            placed = await assignment.do_pass_offer(tx, chat_id) or []
            tx.enqueue(notify_placement(ctx, placed))
            moved += bool(placed)
    return moved


async def pass_command(ctx: FlowContext, turn: Turn) -> None:
    """``/pass`` in a chat's thread by the agent it is offered to: it goes to the next."""
    chat_id = await ctx.chat_for_thread(turn.thread) if turn.thread else None
    if chat_id is None:
        await mention_reply(ctx, turn, "agent.no_chat")
        return
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        placed = await assignment.do_pass_offer(tx, chat_id, declined_by=turn.person)
        if placed is None:
            tx.enqueue([mention_answer(ctx, turn, "agent.pass_refused")])
        else:
            tx.enqueue(notify_placement(ctx, placed))


# What the room is told when the mode changed, by mode (each key in full).
SET_KEYS = {
    "broadcast": "agent.assignment_set.broadcast",
    "round_robin": "agent.assignment_set.round_robin",
    "least_busy": "agent.assignment_set.least_busy",
}


def notify_mode(ctx: FlowContext, turn: Turn, outcome: AssignmentSet | Refused) -> list[Outgoing]:
    """The department's new assignment mode, or why it was not changed."""
    if isinstance(outcome, Refused):
        return setting_refused(ctx, turn, outcome, "agent.assignment_refused")
    department = message_text(outcome.department)
    return [mention_answer(ctx, turn, SET_KEYS[outcome.mode], department=department)]


async def assignment_command(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot assignment broadcast|round_robin|least_busy`` by a supervisor in the room."""
    mode = turn.argument.strip().lower().replace("-", "_")
    if mode not in assignment.MODES:
        await mention_reply(ctx, turn, "agent.assignment_usage")
        return
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        found = await departments.check_room(tx, turn.person, turn.room)
        if isinstance(found, Refused):
            done: AssignmentSet | Refused = found
        else:
            room, agent = found
            done = await departments.do_set_assignment(tx, room.id, agent.id, mode)
        tx.enqueue(notify_mode(ctx, turn, done))
