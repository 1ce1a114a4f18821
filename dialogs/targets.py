"""Response-time targets' flows: the owner reminded at 80 % of the target, the
supervisors told at the breach, and the supervisors' ``targets`` command.

The timers fire :func:`fire_targets` only when a target's timer is due (its deadlines are
among ``routing.next_timer``'s), so nothing reads the database while nobody waits under a
target. Each reminder and breach is claimed in a unit of its own (``store.targets``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from cards.markdown import card_text, mention_markup, message_text
from cards.request import format_duration
from dialogs.chatcards import chat_card, chat_card_activity
from dialogs.console import to_person
from dialogs.context import FlowContext
from dialogs.departments import change_department
from dialogs.replies import Mention, text_activity, to_conversation, to_thread
from dialogs.turn import Turn
from store import departments, targets
from store.departments import TargetsSet
from store.outbox import Outgoing
from store.targets import Breached, Reminded
from store.views import Person
from store.vocabulary import Refusal, Refused


def notify_remind(ctx: FlowContext, reminded: Reminded, now: datetime) -> list[Outgoing]:
    """The owner is @mentioned in the chat's thread; a chat nobody has yet is recalled in
    its thread (where its card is, in the department's room) without a mention."""
    chat, t = reminded.chat, ctx.team_texts
    left = format_duration(max(reminded.due_at - now, timedelta(0)), t)
    name = message_text(chat.customer_name)
    if chat.owner_teams_id is None or chat.owner_name is None:
        text = t("agent.target_near_unowned", customer=name, left=left)
        return [to_thread(chat.id, text_activity(text))]
    owner = Mention(Person(chat.owner_teams_id, chat.owner_name))
    text = t("agent.target_near", mention=owner.markup, customer=name, left=left)
    return [to_thread(chat.id, text_activity(text, mentions=(owner,)))]


def notify_breach(ctx: FlowContext, breached: Breached, now: datetime) -> list[Outgoing]:
    """Each supervisor of the department gets the chat's card in a personal message,
    with how long the customer has waited."""
    chat, t = breached.chat, ctx.team_texts
    if chat.room_reference is None:
        return []
    waited = format_duration(now - breached.since, t)
    note = t("card.target_breached", waited=card_text(waited))
    sent: list[Outgoing] = []
    for teams_id in chat.supervisors:
        card = chat_card(ctx, chat, viewer=teams_id, note=note)
        sent.append(to_person(chat.room_reference, teams_id, chat_card_activity(ctx, card, chat)))
    return sent


async def fire_targets(ctx: FlowContext) -> int:
    """The timer job: due reminders and breaches, each claimed in its own unit (a replica
    that loses the claim sends nothing)."""
    async with ctx.store.reading() as tx:
        remind, breach = await targets.due_targets(tx)
    fired = 0
    jobs = ((remind, targets.do_remind, notify_remind), (breach, targets.do_breach, notify_breach))
    for chat_ids, claim, notify in jobs:
        for chat_id in chat_ids:
            async with ctx.store.unit() as tx:
                claimed: Any = await claim(tx, chat_id)
                if claimed is not None:
                    tx.enqueue(notify(ctx, claimed, tx.now))
                    fired += 1
    return fired


_SPAN = re.compile(r"^(\d{1,6})(s|m|h)?$")
_UNIT = {"s": 1, "m": 60, "h": 3600, None: 60}


def parse_span(word: str) -> int | None:
    """``90s``, ``5m``, ``2h`` or ``5`` (minutes) in seconds; ``off`` is 0; else None."""
    if word == "off":
        return 0
    found = _SPAN.match(word)
    if found is None:
        return None
    return int(found.group(1)) * _UNIT[found.group(2)]


def parse_targets(argument: str) -> tuple[int | None, int | None] | None:
    """``first 5m next 10m`` (either may be missing or ``off``), or ``off``: the targets
    in seconds (None: off); None when the words are not that."""
    words = argument.strip().lower().split()
    if words == ["off"]:
        return None, None
    if not words or len(words) % 2:
        return None
    found: dict[str, int | None] = {}
    for name, span in zip(words[::2], words[1::2], strict=True):
        seconds = parse_span(span)
        if name not in ("first", "next") or seconds is None or name in found:
            return None
        found[name] = seconds or None
    return found.get("first"), found.get("next")


def _reply(turn: Turn, text: str) -> list[Outgoing]:
    mention = Mention(turn.person)
    return [to_conversation(turn.reference, text_activity(text, mentions=(mention,)))]


def span_text(ctx: FlowContext, seconds: int | None) -> str:
    if seconds is None:
        return ctx.team_texts("agent.targets_none")
    return format_duration(timedelta(seconds=seconds), ctx.team_texts)


def notify_targets(ctx: FlowContext, turn: Turn, outcome: TargetsSet | Refused) -> list[Outgoing]:
    """The department's new targets, or why they were not changed."""
    t = ctx.team_texts
    markup = mention_markup(turn.person)
    if isinstance(outcome, Refused) and outcome.reason == Refusal.NOT_A_ROOM:
        return _reply(turn, t("agent.not_a_room", mention=markup))
    if isinstance(outcome, Refused):
        return _reply(turn, t("agent.targets_refused", mention=markup))
    text = t(
        "agent.targets_set",
        mention=markup,
        department=message_text(outcome.department),
        first=span_text(ctx, outcome.first),
        next=span_text(ctx, outcome.next),
    )
    return _reply(turn, text)


async def targets_command(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot targets first 5m next 10m`` (or ``off``) by a supervisor in the room."""
    wanted = parse_targets(turn.argument)
    if wanted is None:
        text = ctx.team_texts("agent.targets_usage", mention=mention_markup(turn.person))
        await ctx.store.notify(turn.keys, _reply(turn, text))
        return
    first, next_ = wanted
    change = partial(departments.do_set_targets, first=first, next_=next_)
    await change_department(ctx, turn, change, notify_targets)
