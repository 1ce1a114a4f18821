"""Rooms: the bot joining a team, and ``@Bot setup [Department]`` binding a channel."""

from __future__ import annotations

import logging
import re
from typing import Any

from cards.markdown import message_text
from dialogs.chatcards import chat_card, chat_card_activity
from dialogs.context import FlowContext
from dialogs.i18n import DEFAULT_DEPARTMENT_NAME
from dialogs.notices import mention_answer
from dialogs.replies import Mention, new_thread, text_activity, to_conversation
from dialogs.turn import Turn
from store import rooms
from store.core import DEFAULT_DEPARTMENT
from store.outbox import Outgoing
from store.rooms import RoomReady, RoomSetup
from store.vocabulary import Refusal, Refused

log = logging.getLogger(__name__)

DEPARTMENT_NAME_LIMIT = 60
_KEY_CHARS = re.compile(r"[^a-z0-9]+")


# Why a setup was refused, as its writer is told (a foreign tenant is told nothing).
SETUP_REFUSAL_KEYS = {
    Refusal.NOT_SUPERVISOR: "refusal.setup_not_supervisor",
    Refusal.CHANNEL_TAKEN: "refusal.setup_channel_taken",
}


def department_key(name: str) -> str:
    key = _KEY_CHARS.sub("-", name.lower()).strip("-")
    return key[:DEPARTMENT_NAME_LIMIT] or DEFAULT_DEPARTMENT


def room_reference(turn: Turn) -> dict[str, Any]:
    """The channel's root conversation (a setup written in a thread still binds the channel)."""
    reference = dict(turn.reference)
    conversation = dict(reference["conversation"])
    conversation["id"] = turn.room
    conversation["isGroup"] = True
    conversation["conversationType"] = "channel"
    reference["conversation"] = conversation
    reference["user"] = None
    return reference


async def setup(ctx: FlowContext, turn: Turn, tenant: str, *, bind_tenant: bool) -> None:
    """``@Bot setup [Department]`` in a channel of an allowed tenant (the trust gate
    admitted ``tenant``; ``bind_tenant``: no tenants are configured, so the first setup
    binds its own); who may bind what is decided in the store's transaction. Not in the
    command table: only the bridge knows what the gate admitted."""
    argument = turn.argument.strip()[:DEPARTMENT_NAME_LIMIT]
    name = argument or DEFAULT_DEPARTMENT_NAME
    key = department_key(argument) if argument else DEFAULT_DEPARTMENT
    setup_of = RoomSetup(
        key=key,
        name=name,
        tenant_id=tenant,
        bind_tenant=bind_tenant,
        team_id=turn.team,
        channel_id=turn.room,
        room_reference=room_reference(turn),
    )
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        outcome = await rooms.do_setup_room(tx, turn.person, setup_of)
        tx.enqueue(notify_setup(ctx, turn, setup_of, outcome))
    if isinstance(outcome, Refused):
        log.warning("setup refused in %r: %s", setup_of.channel_id[:120], outcome.reason)


def notify_setup(
    ctx: FlowContext, turn: Turn, room: RoomSetup, outcome: RoomReady | Refused
) -> list[Outgoing]:
    """The room hears who supervises it, and gets the cards of the chats that waited for a
    room; a refusal is said where the setup was written (a foreign tenant hears nothing)."""
    if isinstance(outcome, Refused):
        if outcome.reason == Refusal.FOREIGN_TENANT:
            return []
        key = SETUP_REFUSAL_KEYS.get(outcome.reason, "refusal.neutral")
        department = message_text(outcome.department or "")
        return [mention_answer(ctx, turn, key, department=department)]
    mention = Mention(turn.person)
    reference = room.room_reference
    done = ctx.team_texts(
        "agent.setup_done",
        department=message_text(outcome.department),
        supervisor=mention.markup,
    )
    items = [to_conversation(reference, text_activity(done, mentions=(mention,)))]
    for chat in outcome.waiting:
        card = chat_card(ctx, chat)
        items.append(new_thread(chat.id, reference, chat_card_activity(ctx, card, chat)))
    return items


async def members_added(ctx: FlowContext, turn: Turn) -> None:
    """Welcome the team when the bot itself is added, saying how to run setup."""
    if not turn.bot_added:
        return
    welcome = ctx.team_texts("agent.welcome", bot=turn.bot)
    await ctx.store.notify(turn.keys, [to_conversation(turn.reference, text_activity(welcome))])
