"""Room commands about the department: ``chats``, ``history [customer]``, ``supervisor``."""

from __future__ import annotations

from cards.lists import chat_list_card
from cards.markdown import message_text
from cards.request import card_activity
from dialogs.context import FlowContext
from dialogs.notices import mention_reply
from dialogs.replies import Mention, refusal_key, text_activity, to_conversation
from dialogs.turn import Turn
from store.departments import check_room
from store.lists import chat_list as room_chats
from store.outbox import Outgoing
from store.people import agent
from store.supervisors import SupervisorsChanged, do_add_supervisor, do_remove_supervisor
from store.vocabulary import Refused


async def chat_list(ctx: FlowContext, turn: Turn) -> None:
    """``chats``: the open chats; ``history [customer]``: the last closed ones, with links."""
    closed = turn.word == "history"
    customer = turn.argument or None if closed else None
    async with ctx.store.reading() as tx:
        listing = await room_chats(tx, turn.room, closed=closed, customer=customer)
    if isinstance(listing, Refused):
        await mention_reply(ctx, turn, refusal_key(listing.reason))
        return
    t = ctx.team_texts
    card = chat_list_card(
        listing, t, closed=closed, transcript_url=ctx.transcript_url, customer=customer
    )
    summary = t("history.title" if closed else "list.title", department=listing.department)
    await ctx.store.notify(
        turn.keys, [to_conversation(turn.reference, card_activity(card, summary))]
    )


async def supervisor(ctx: FlowContext, turn: Turn) -> None:
    """``supervisor add @name`` / ``supervisor remove @name``, by a supervisor of the room."""
    action, _, _ = turn.argument.partition(" ")
    if action.lower() not in ("add", "remove") or not turn.mentions:
        await mention_reply(ctx, turn, "refusal.supervisor_usage")
        return
    target = turn.mentions[0]
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        found = await check_room(tx, turn.person, turn.room)
        if isinstance(found, Refused):
            outcome: SupervisorsChanged | Refused = found
        else:
            room, me = found
            change = do_add_supervisor if action.lower() == "add" else do_remove_supervisor
            outcome = await change(tx, room.id, me.id, (await agent(tx, target)).id)
        tx.enqueue(notify_supervisors(ctx, turn, outcome))


def notify_supervisors(
    ctx: FlowContext, turn: Turn, outcome: SupervisorsChanged | Refused
) -> list[Outgoing]:
    """The room reads the department's supervisors now, or the actor why not."""
    t = ctx.team_texts
    reference = turn.reference
    if isinstance(outcome, Refused):
        mention = Mention(turn.person)
        text = t(refusal_key(outcome.reason), mention=mention.markup)
        return [to_conversation(reference, text_activity(text, mentions=(mention,)))]
    names = message_text(", ".join(p.name for p in outcome.supervisors))
    text = t("team.supervisors", department=message_text(outcome.department), names=names)
    return [to_conversation(reference, text_activity(text))]
