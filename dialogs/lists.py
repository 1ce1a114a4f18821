"""Room commands about the department: ``chats``, ``history [customer]``, ``supervisor``."""

from __future__ import annotations

from typing import Any

from cards.lists import chat_list_card
from cards.request import card_activity
from dialogs.activity import activity_keys, channel_of, mentioned_people, person_of, reference_of
from dialogs.commands import Command
from dialogs.context import FlowContext
from dialogs.notices import mention_reply
from dialogs.replies import Mention, text_activity, to_conversation
from store.lists import chat_list as room_chats
from store.outbox import Outgoing
from store.supervisors import RoomRefused, SupervisorsChanged, do_change_supervisor


async def chat_list(ctx: FlowContext, activity: dict[str, Any], command: Command) -> None:
    """``chats``: the open chats; ``history [customer]``: the last closed ones, with links."""
    closed = command.word == "history"
    customer = command.argument or None if closed else None
    async with ctx.store.reading() as tx:
        listing = await room_chats(tx, channel_of(activity), closed=closed, customer=customer)
    if isinstance(listing, RoomRefused):
        await mention_reply(ctx, activity, f"refusal.{listing.reason}")
        return
    t = ctx.team_texts
    card = chat_list_card(
        listing, t, closed=closed, transcript_url=ctx.transcript_url, customer=customer
    )
    summary = t("history.title" if closed else "list.title", department=listing.department)
    await ctx.store.notify(
        activity_keys(activity),
        [to_conversation(reference_of(activity), card_activity(card, summary))],
    )


async def supervisor(ctx: FlowContext, activity: dict[str, Any], command: Command) -> None:
    """``supervisor add @name`` / ``supervisor remove @name``, by a supervisor of the room."""
    action, _, _ = command.argument.partition(" ")
    people = mentioned_people(activity)
    if action.lower() not in ("add", "remove") or not people:
        await mention_reply(ctx, activity, "refusal.supervisor_usage")
        return
    actor = person_of(activity)
    target = people[0]
    async with ctx.store.unit() as tx:
        if not await tx.first_time(activity_keys(activity)):
            return
        add = action.lower() == "add"
        outcome = await do_change_supervisor(tx, channel_of(activity), actor, target, add=add)
        tx.enqueue(notify_supervisors(ctx, activity, outcome))


def notify_supervisors(
    ctx: FlowContext, activity: dict[str, Any], outcome: SupervisorsChanged | RoomRefused
) -> list[Outgoing]:
    """The room reads the department's supervisors now, or the actor why not."""
    t = ctx.team_texts
    reference = reference_of(activity)
    if isinstance(outcome, RoomRefused):
        mention = Mention(person_of(activity))
        text = t(f"refusal.{outcome.reason}", mention=mention.markup)
        return [to_conversation(reference, text_activity(text, mentions=(mention,)))]
    names = ", ".join(p.name for p in outcome.supervisors)
    text = t("team.supervisors", department=outcome.department, names=names)
    return [to_conversation(reference, text_activity(text))]
