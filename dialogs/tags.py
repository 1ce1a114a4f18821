"""Tags: supervisors keep a department's list (``@Bot tags add|remove|list|require``);
agents tag a chat with ``/tag``, ``/untag`` or the card's Tag action."""

from __future__ import annotations

from typing import Any

from cards.tags import selected_tags
from dialogs.activity import (
    activity_keys,
    bot_name,
    channel_of,
    person_of,
    reference_of,
    thread_of,
)
from dialogs.chatcards import chat_card, chat_card_activity
from dialogs.commands import Command
from dialogs.context import FlowContext
from dialogs.notices import manage_room_lists, mention_answer, mention_reply
from dialogs.replies import Mention, card_update, text_activity, to_conversation
from store import tags
from store.access import Supervising
from store.core import ChatView
from store.outbox import Outgoing
from store.tagkeys import TAG_LIMIT, tag_name, valid_tag
from store.tags import RoomTags, Tagged, TagMissing, TagRemoved, TagRuleSet, TagsAdded, UnknownTags
from store.unit import Unit
from store.vocabulary import Refused


def _names(text: str) -> list[str]:
    return list(dict.fromkeys(tag_name(n) for n in text.replace(",", " ").split()))


async def _invalid(ctx: FlowContext, activity: dict[str, Any], names: list[str]) -> bool:
    """Refuse a name that cannot be a tag, saying which one and why."""
    bad = next((n for n in names if not valid_tag(n)), None)
    if bad is not None:
        await mention_reply(ctx, activity, "tags.bad_name", name=bad, limit=TAG_LIMIT)
    return bad is not None


async def manage(ctx: FlowContext, activity: dict[str, Any], command: Command) -> None:
    """``@Bot tags add <name> ...``, ``remove <name>``, ``list``, ``require on|off``."""
    action, _, rest = command.argument.partition(" ")
    action = action.lower()
    names = _names(rest)
    if action == "list":
        await list_tags(ctx, activity)
    elif action == "add" and names:
        if not await _invalid(ctx, activity, names):

            async def add(tx: Unit, room: Supervising) -> TagsAdded:
                return await tags.do_add_tags(tx, room.department, names)

            await manage_room_lists(ctx, activity, add)
    elif action == "remove" and len(names) == 1:

        async def remove(tx: Unit, room: Supervising) -> TagRemoved | TagMissing:
            return await tags.do_remove_tag(tx, room.department, names[0])

        await manage_room_lists(ctx, activity, remove)
    elif action == "require" and names in (["on"], ["off"]):

        async def require(tx: Unit, room: Supervising) -> TagRuleSet:
            return await tags.do_require_tag(tx, room.department, names == ["on"])

        await manage_room_lists(ctx, activity, require)
    else:
        await mention_reply(ctx, activity, "tags.usage", bot=bot_name(activity))


def notify_room_tags(
    ctx: FlowContext, activity: dict[str, Any], listed: RoomTags | Refused
) -> list[Outgoing]:
    """The room's tag list and its rule, or how to make the channel a room."""
    t = ctx.team_texts
    bot = bot_name(activity)
    if isinstance(listed, Refused):
        return [mention_answer(ctx, activity, "tools.no_room", bot=bot)]
    if listed.names:
        rule = t("tags.rule_required" if listed.required else "tags.rule_optional")
        text = t("tags.list", department=listed.department, tags=", ".join(listed.names), rule=rule)
    else:
        text = t("tags.list_empty", department=listed.department, bot=bot)
    return [to_conversation(reference_of(activity), text_activity(text))]


async def list_tags(ctx: FlowContext, activity: dict[str, Any]) -> None:
    """``@Bot tags list``: read and answered in one unit, once per inbound activity."""
    async with ctx.store.unit() as tx:
        if not await tx.first_time(activity_keys(activity)):
            return
        listed = await tags.room_tags(tx, channel_of(activity))
        tx.enqueue(notify_room_tags(ctx, activity, listed))


def _unknown_text(ctx: FlowContext, outcome: UnknownTags, mention: str) -> str:
    known = ", ".join(outcome.known) or ctx.team_texts("tags.none_known")
    return ctx.team_texts(
        "tags.unknown", mention=mention, unknown=", ".join(outcome.unknown), known=known
    )


def notify_tagging(
    ctx: FlowContext,
    activity: dict[str, Any],
    outcome: Tagged | UnknownTags | Refused,
    *,
    by_invoke: bool,
) -> list[Outgoing]:
    """What a tagging sends: the card shows the tags (the thread gets no notice: nobody has
    to act on it); a command that failed is answered in the thread, a press by its card."""
    match outcome:
        case Tagged(chat):
            return [card_update(chat.id, chat_card_activity(ctx, chat_card(ctx, chat), chat))]
        case UnknownTags() if not by_invoke:
            mention = Mention(person_of(activity))
            text = _unknown_text(ctx, outcome, mention.markup)
            answer = text_activity(text, mentions=(mention,))
            return [to_conversation(reference_of(activity), answer)]
        case Refused(chat=ChatView()) if not by_invoke:
            return [mention_answer(ctx, activity, "tags.refused")]
    return []


def _pressed_card(
    ctx: FlowContext, activity: dict[str, Any], outcome: Tagged | UnknownTags | Refused
) -> dict[str, Any] | None:
    """The presser's view of the card (the invoke's answer); None: no such chat."""
    viewer = person_of(activity)
    note: str | None = None
    match outcome:
        case UnknownTags():
            note = _unknown_text(ctx, outcome, viewer.name)
        case Refused(chat=ChatView()):
            note = ctx.team_texts("tags.refused", mention=viewer.name)
        case Refused():
            return None
    assert outcome.chat is not None
    return chat_card(ctx, outcome.chat, viewer=viewer.teams_id, note=note)


async def _tag(
    ctx: FlowContext,
    activity: dict[str, Any],
    chat_id: int,
    *,
    by_invoke: bool,
    add: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
    exactly: tuple[str, ...] | None = None,
) -> dict[str, Any] | None:
    """Tag the chat, once per inbound activity (a press's invoke is answered every time);
    for a card press, the card to answer with (None: no such chat, or seen before)."""
    async with ctx.store.unit() as tx:
        if not await tx.first_time([] if by_invoke else activity_keys(activity)):
            return None
        outcome = await tags.do_tag_chat(
            tx, chat_id, person_of(activity), add=add, remove=remove, exactly=exactly
        )
        tx.enqueue(notify_tagging(ctx, activity, outcome, by_invoke=by_invoke))
    return _pressed_card(ctx, activity, outcome)


async def tag_command(
    ctx: FlowContext, activity: dict[str, Any], command: Command, *, remove: bool
) -> None:
    """``/tag <name> ...`` or ``/untag <name> ...`` in a chat's thread."""
    thread = thread_of(activity)
    chat_id = await ctx.chat_for_thread(thread) if thread else None
    if chat_id is None:
        await mention_reply(ctx, activity, "agent.no_chat")
        return
    names = tuple(_names(command.argument))
    if not names:
        await mention_reply(ctx, activity, "tags.command_usage")
        return
    if remove:
        await _tag(ctx, activity, chat_id, by_invoke=False, remove=names)
    else:
        await _tag(ctx, activity, chat_id, by_invoke=False, add=names)


async def card_tag(
    ctx: FlowContext, activity: dict[str, Any], chat_id: int, *, by_invoke: bool
) -> dict[str, Any] | None:
    """The card's Tag action: the chat gets exactly the tags selected on the card."""
    return await _tag(ctx, activity, chat_id, by_invoke=by_invoke, exactly=selected_tags(activity))
