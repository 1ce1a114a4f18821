"""Agents' availability: ``@Bot online``, ``@Bot away``, ``@Bot offline``, and the
``@Bot status`` card with the same three buttons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from cards.departments import AVAILABILITY_KEYS, availability_card, pressed_availability
from cards.request import CARD_CONTENT_TYPE, card_activity
from dialogs.agents import InvokeAnswer
from dialogs.assignment import offer_waiting
from dialogs.context import FlowContext
from dialogs.replies import Mention, text_activity, to_conversation
from dialogs.routing import notify_came_online
from dialogs.turn import Turn
from store import availability, presence
from store.availability import AvailabilityChanged
from store.models import Availability
from store.outbox import Outgoing

WORDS = {status.value: status for status in Availability}


class PresenceSource(Protocol):
    """Where Teams presence comes from (Microsoft Graph; a fake in tests)."""

    async def presences(self, ids: Sequence[str]) -> dict[str, str]: ...


async def set_availability(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot online|away|offline``: set the writer's availability (the command's word)
    and confirm it where they wrote."""
    await _set(ctx, turn, turn.word)


def notify_availability(
    ctx: FlowContext, turn: Turn, changed: AvailabilityChanged
) -> list[Outgoing]:
    """The confirmation where the agent wrote (a press is answered by its card instead),
    and, if they came online, a mention in each waiting chat's thread."""
    person = turn.person
    items = notify_came_online(ctx, person, changed.waiting)
    if turn.by_invoke:
        return items
    t = ctx.team_texts
    mention = Mention(person)
    text = t(
        "agent.availability_set",
        mention=mention.markup,
        availability=t(AVAILABILITY_KEYS[changed.current]),
    )
    return [
        to_conversation(turn.reference, text_activity(text, mentions=(mention,))),
        *items,
    ]


async def _set(ctx: FlowContext, turn: Turn, word: str) -> AvailabilityChanged | None:
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return None
        changed = await availability.do_set_availability(
            tx, turn.person, WORDS[word], channel_id=turn.room
        )
        tx.enqueue(notify_availability(ctx, turn, changed))
    if changed.current == Availability.ONLINE:
        await offer_waiting(ctx, turn.person.teams_id)
    return changed


async def status_card(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot status``: a card to set one's availability with a press."""
    async with ctx.store.reading() as tx:
        current = await availability.availability_of(tx, turn.person)
    card = availability_card(current.value, ctx.team_texts)
    summary = ctx.team_texts("card.availability")
    await ctx.store.notify(
        turn.keys, [to_conversation(turn.reference, card_activity(card, summary))]
    )


async def follow_teams_presence(
    ctx: FlowContext, graph: PresenceSource, interval: float = 30.0
) -> int:
    """One poll of Teams presence: the department members' availability follows it
    (typed availability holds until their presence changes); returns how many changed."""
    async with ctx.store.unit() as tx:
        if not await presence.claim_presence_poll(tx, timedelta(seconds=interval * 0.9)):
            return 0  # another replica polls this round
    async with ctx.store.reading() as tx:
        ids = await presence.presence_ids(tx)
    if not ids:
        return 0
    seen = await graph.presences(ids)
    async with ctx.store.unit() as tx:
        followed = await presence.do_follow_presence(tx, seen)
        for person, waiting in followed.came_online:
            tx.enqueue(notify_came_online(ctx, person, waiting))
    for person, _ in followed.came_online:
        await offer_waiting(ctx, person.teams_id)
    return followed.changed


def is_availability_action(turn: Turn) -> bool:
    """A press on the status card (its data is the card's, not a chat's action)."""
    return pressed_availability(turn.card) is not None


async def availability_action(ctx: FlowContext, turn: Turn) -> InvokeAnswer | None:
    """A press on the status card: set it; an invoke gets the card back showing it."""
    word = pressed_availability(turn.card)
    if word not in WORDS:
        return InvokeAnswer(400, {"error": "unknown availability"}) if turn.by_invoke else None
    changed = await _set(ctx, turn, word)
    if not turn.by_invoke:
        return None
    current = changed.current.value if changed else word
    card = availability_card(current, ctx.team_texts)
    return InvokeAnswer(200, {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card})
