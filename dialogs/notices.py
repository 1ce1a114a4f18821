"""Answers to an agent, shared by the tools' flows: @mention replies and relay refusals."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from cards.markdown import message_text
from dialogs.context import FlowContext
from dialogs.i18n import Texts
from dialogs.replies import Mention, text_activity, to_conversation, to_thread
from dialogs.turn import Turn
from store.access import Supervising, check_supervisor
from store.canned import CannedAdded, CannedExists, CannedMissing, CannedRemoved
from store.core import ChatView, Person
from store.models import ChatState
from store.outbox import Outgoing
from store.tags import TagMissing, TagRemoved, TagRuleSet, TagsAdded
from store.unit import Unit
from store.vocabulary import Refusal, Refused

ViewCompose = Callable[[ChatView], list[Outgoing]]

# What a supervisor's change of the room's lists (canned answers and tags) comes to.
Managed = (
    Refused
    | CannedAdded
    | CannedExists
    | CannedRemoved
    | CannedMissing
    | TagsAdded
    | TagRemoved
    | TagMissing
    | TagRuleSet
)
ManageChange = Callable[[Unit, Supervising], Awaitable[Managed]]


def mention_answer(ctx: FlowContext, turn: Turn, key: str, **values: Any) -> Outgoing:
    """A reply where the agent wrote, @mentioning them (Teams notifies them)."""
    mention = Mention(turn.person)
    text = ctx.team_texts(key, mention=mention.markup, **values)
    return to_conversation(turn.reference, text_activity(text, mentions=(mention,)))


def setting_refused(ctx: FlowContext, turn: Turn, refused: Refused, key: str) -> list[Outgoing]:
    """A department's setting left as it was: the room is none (``agent.not_a_room``), or
    ``key`` for any other reason (the writer does not supervise it)."""
    said = "agent.not_a_room" if refused.reason == Refusal.NOT_A_ROOM else key
    return [mention_answer(ctx, turn, said)]


async def mention_reply(ctx: FlowContext, turn: Turn, key: str, **values: Any) -> None:
    """Answer an agent where they wrote, once per inbound activity."""
    await ctx.store.notify(turn.keys, [mention_answer(ctx, turn, key, **values)])


def relay_refused(t: Texts, person: Person) -> ViewCompose:
    """What a writer is told when their message cannot reach the customer, and why."""

    def compose(chat: ChatView) -> list[Outgoing]:
        mention = Mention(person)
        if chat.state == ChatState.CLOSED:
            text = t("agent.chat_closed_no_relay", mention=mention.markup)
        else:
            how = (
                t("agent.how_accept")
                if chat.state == ChatState.WAITING
                else t("agent.how_invite", owner=message_text(chat.owner_name or ""))
            )
            text = t("agent.not_participant", mention=mention.markup, how=how)
        return [to_thread(chat.id, text_activity(text, mentions=(mention,)))]

    return compose


def kept_as_note(t: Texts) -> ViewCompose:
    """The one-time hint to a colleague whose reply was kept as an internal note: said
    in the thread without an @mention, so it does not notify them again."""

    def compose(chat: ChatView) -> list[Outgoing]:
        how = (
            t("agent.how_accept")
            if chat.state == ChatState.WAITING
            else t("agent.how_invite", owner=message_text(chat.owner_name or ""))
        )
        return [to_thread(chat.id, text_activity(t("agent.kept_as_note", how=how)))]

    return compose


async def manage_room_lists(ctx: FlowContext, turn: Turn, change: ManageChange) -> None:
    """A supervisor's change of the room's lists, once per inbound activity: checked
    (a supervisor of this room?), made and answered in one unit."""
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        found = await check_supervisor(tx, turn.person, turn.room)
        outcome = found if isinstance(found, Refused) else await change(tx, found)
        tx.enqueue(notify_managed(ctx, turn, outcome))


def notify_managed(ctx: FlowContext, turn: Turn, outcome: Managed) -> list[Outgoing]:
    """Answers to a supervisor's change of the room's lists (canned answers and tags)."""
    bot = turn.bot
    t = ctx.team_texts

    def answer(key: str, **values: Any) -> list[Outgoing]:
        return [mention_answer(ctx, turn, key, **values)]

    match outcome:
        case Refused(Refusal.NOT_A_ROOM):
            return answer("tools.no_room", bot=bot)
        case Refused(Refusal.NOT_SUPERVISOR, department=department):
            return answer("tools.not_supervisor", department=message_text(department or ""))
        case CannedAdded(shortcut):
            return answer("canned.added", shortcut=message_text(shortcut))
        case CannedExists(shortcut):
            return answer("canned.exists", shortcut=message_text(shortcut), bot=bot)
        case CannedRemoved(shortcut):
            return answer("canned.removed", shortcut=message_text(shortcut))
        case CannedMissing(shortcut):
            return answer("canned.missing", shortcut=message_text(shortcut))
        case TagsAdded(added, existing):
            done = t("tags.added", tags=message_text(", ".join(added) or "-"))
            if existing:
                done += " " + t("tags.existing", tags=message_text(", ".join(existing)))
            return answer("tools.done", text=done)
        case TagRemoved(name):
            return answer("tags.removed", name=message_text(name))
        case TagMissing(name):
            return answer("tags.missing", name=message_text(name))
        case TagRuleSet(required):
            return answer("tags.required_on" if required else "tags.required_off")
    return []
