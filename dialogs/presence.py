"""Agents' availability: ``@Bot online``, ``@Bot away``, ``@Bot offline``."""

from __future__ import annotations

from typing import Any

from dialogs.activity import activity_keys, person_of, reference_of
from dialogs.context import FlowContext
from dialogs.replies import Mention, text_activity, to_conversation
from store.models import Availability
from store.outbox import Outgoing
from store.rooms import AvailabilityChanged

WORDS = {status.value: status for status in Availability}


async def set_availability(ctx: FlowContext, activity: dict[str, Any], word: str) -> None:
    """Set the writer's availability and confirm it where they wrote."""
    person = person_of(activity)
    reference = reference_of(activity)
    t = ctx.team_texts

    def compose(changed: AvailabilityChanged) -> list[Outgoing]:
        mention = Mention(person)
        text = t(
            "agent.availability_set",
            mention=mention.markup,
            availability=t(f"availability.{changed.current.value}"),
        )
        return [to_conversation(reference, text_activity(text, mentions=(mention,)))]

    await ctx.store.set_availability(person, WORDS[word], activity_keys(activity), compose)
