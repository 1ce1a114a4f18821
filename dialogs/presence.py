"""Agents' availability: ``@Bot online``, ``@Bot away``, ``@Bot offline``, and the
``@Bot status`` card with the same three buttons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Protocol

from cards.departments import availability_card, pressed_availability
from cards.request import CARD_CONTENT_TYPE, card_activity
from dialogs.activity import activity_keys, channel_of, person_of, reference_of
from dialogs.agents import InvokeAnswer
from dialogs.context import FlowContext
from dialogs.replies import Mention, text_activity, to_conversation
from dialogs.routing import came_online
from store.models import Availability
from store.outbox import Outgoing
from store.rooms import AvailabilityChanged

WORDS = {status.value: status for status in Availability}


class PresenceSource(Protocol):
    """Where Teams presence comes from (Microsoft Graph; a fake in tests)."""

    async def presences(self, ids: Sequence[str]) -> dict[str, str]: ...


async def set_availability(ctx: FlowContext, activity: dict[str, Any], word: str) -> None:
    """Set the writer's availability and confirm it where they wrote."""
    await _set(ctx, activity, word, by_invoke=False)


async def _set(
    ctx: FlowContext, activity: dict[str, Any], word: str, *, by_invoke: bool
) -> AvailabilityChanged | None:
    person = person_of(activity)
    reference = reference_of(activity)
    t = ctx.team_texts

    def compose(changed: AvailabilityChanged) -> list[Outgoing]:
        if by_invoke:
            return []
        mention = Mention(person)
        text = t(
            "agent.availability_set",
            mention=mention.markup,
            availability=t(f"availability.{changed.current.value}"),
        )
        return [to_conversation(reference, text_activity(text, mentions=(mention,)))]

    outcome = await ctx.store.set_availability(
        person,
        WORDS[word],
        activity_keys(activity),
        compose,
        channel_id=channel_of(activity),
        on_waiting=lambda chat, _audience: came_online(ctx, person, chat),
    )
    return outcome if isinstance(outcome, AvailabilityChanged) else None


async def status_card(ctx: FlowContext, activity: dict[str, Any]) -> None:
    """``@Bot status``: a card to set one's availability with a press."""
    current = await ctx.store.availability_of(person_of(activity))
    card = availability_card(current.value, ctx.team_texts)
    await ctx.store.notify(
        activity_keys(activity),
        [
            to_conversation(
                reference_of(activity), card_activity(card, ctx.team_texts("card.availability"))
            )
        ],
    )


async def follow_teams_presence(
    ctx: FlowContext, graph: PresenceSource, interval: float = 30.0
) -> int:
    """One poll of Teams presence: the department members' availability follows it
    (typed availability holds until their presence changes); returns how many changed."""
    if not await ctx.store.claim_presence_poll(timedelta(seconds=interval * 0.9)):
        return 0  # another replica polls this round
    ids = await ctx.store.presence_ids()
    if not ids:
        return 0
    seen = await graph.presences(ids)
    followed = await ctx.store.follow_presence(
        seen, on_waiting=lambda person, chat: came_online(ctx, person, chat)
    )
    return followed.changed


def is_availability_action(activity: dict[str, Any]) -> bool:
    return pressed_availability(activity) is not None


async def availability_action(
    ctx: FlowContext, activity: dict[str, Any], *, by_invoke: bool
) -> InvokeAnswer | None:
    """A press on the status card: set it; an invoke gets the card back showing it."""
    word = pressed_availability(activity)
    if word not in WORDS:
        return InvokeAnswer(400, {"error": "unknown availability"}) if by_invoke else None
    changed = await _set(ctx, activity, word, by_invoke=by_invoke)
    if not by_invoke:
        return None
    current = changed.current.value if changed else word
    card = availability_card(current, ctx.team_texts)
    return InvokeAnswer(200, {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card})
