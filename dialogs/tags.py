"""Tags: supervisors keep a department's list (``@Bot tags add|remove|list|require``);
agents tag a chat with ``/tag``, ``/untag`` or the card's Tag action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cards.markdown import card_text, message_text
from cards.tags import selected_tags
from dialogs.chatcards import chat_card, chat_card_activity
from dialogs.context import FlowContext
from dialogs.notices import manage_room_lists, mention_answer, mention_reply
from dialogs.replies import Mention, card_update, text_activity, to_conversation
from dialogs.turn import Turn
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


async def _invalid(ctx: FlowContext, turn: Turn, names: list[str]) -> bool:
    """Refuse a name that cannot be a tag, saying which one and why."""
    bad = next((n for n in names if not valid_tag(n)), None)
    if bad is not None:
        await mention_reply(ctx, turn, "tags.bad_name", name=message_text(bad), limit=TAG_LIMIT)
    return bad is not None


async def manage(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot tags add <name> ...``, ``remove <name>``, ``list``, ``require on|off``."""
    action, _, rest = turn.argument.partition(" ")
    action = action.lower()
    names = _names(rest)
    if action == "list":
        await list_tags(ctx, turn)
    elif action == "add" and names:
        if not await _invalid(ctx, turn, names):

            async def add(tx: Unit, room: Supervising) -> TagsAdded | Refused:
                return await tags.do_add_tags(tx, room.department.id, room.agent_id, names)

            await manage_room_lists(ctx, turn, add)
    elif action == "remove" and len(names) == 1:

        async def remove(tx: Unit, room: Supervising) -> TagRemoved | TagMissing | Refused:
            return await tags.do_remove_tag(tx, room.department.id, room.agent_id, names[0])

        await manage_room_lists(ctx, turn, remove)
    elif action == "require" and names in (["on"], ["off"]):

        async def require(tx: Unit, room: Supervising) -> TagRuleSet | Refused:
            return await tags.do_require_tag(tx, room.department.id, room.agent_id, names == ["on"])

        await manage_room_lists(ctx, turn, require)
    else:
        await mention_reply(ctx, turn, "tags.usage", bot=turn.bot)


def notify_room_tags(ctx: FlowContext, turn: Turn, listed: RoomTags | Refused) -> list[Outgoing]:
    """The room's tag list and its rule, or how to make the channel a room."""
    t = ctx.team_texts
    bot = turn.bot
    if isinstance(listed, Refused):
        return [mention_answer(ctx, turn, "tools.no_room", bot=bot)]
    department = message_text(listed.department)
    if listed.names:
        rule = t("tags.rule_required" if listed.required else "tags.rule_optional")
        names = message_text(", ".join(listed.names))
        text = t("tags.list", department=department, tags=names, rule=rule)
    else:
        text = t("tags.list_empty", department=department, bot=bot)
    return [to_conversation(turn.reference, text_activity(text))]


async def list_tags(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot tags list``: read and answered in one unit, once per inbound activity."""
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        listed = await tags.room_tags(tx, turn.room)
        tx.enqueue(notify_room_tags(ctx, turn, listed))


def _unknown_text(
    ctx: FlowContext, outcome: UnknownTags, mention: str, escape: Callable[[str], str]
) -> str:
    """Which tags are unknown, for a message (``escape``: ``message_text``) or a card's
    note (``card_text``)."""
    known = escape(", ".join(outcome.known)) or ctx.team_texts("tags.none_known")
    unknown = escape(", ".join(outcome.unknown))
    return ctx.team_texts("tags.unknown", mention=mention, unknown=unknown, known=known)


def notify_tagging(
    ctx: FlowContext, turn: Turn, outcome: Tagged | UnknownTags | Refused
) -> list[Outgoing]:
    """What a tagging sends: the card shows the tags (the thread gets no notice: nobody has
    to act on it); a command that failed is answered in the thread, a press by its card."""
    match outcome:
        case Tagged(chat):
            return [card_update(chat.id, chat_card_activity(ctx, chat_card(ctx, chat), chat))]
        case UnknownTags() if not turn.by_invoke:
            mention = Mention(turn.person)
            text = _unknown_text(ctx, outcome, mention.markup, message_text)
            answer = text_activity(text, mentions=(mention,))
            return [to_conversation(turn.reference, answer)]
        case Refused(chat=ChatView()) if not turn.by_invoke:
            return [mention_answer(ctx, turn, "tags.refused")]
    return []


def _pressed_card(
    ctx: FlowContext, turn: Turn, outcome: Tagged | UnknownTags | Refused
) -> dict[str, Any] | None:
    """The presser's view of the card (the invoke's answer); None: no such chat."""
    viewer = turn.person
    note: str | None = None
    match outcome:
        case UnknownTags():
            note = _unknown_text(ctx, outcome, card_text(viewer.name), card_text)
        case Refused(chat=ChatView()):
            note = ctx.team_texts("tags.refused", mention=card_text(viewer.name))
        case Refused():
            return None
    assert outcome.chat is not None
    return chat_card(ctx, outcome.chat, viewer=viewer.teams_id, note=note)


async def _tag(
    ctx: FlowContext,
    turn: Turn,
    chat_id: int,
    *,
    add: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
    exactly: tuple[str, ...] | None = None,
) -> dict[str, Any] | None:
    """Tag the chat, once per inbound activity (a press's invoke is answered every time);
    for a card press, the card to answer with (None: no such chat, or seen before)."""
    async with ctx.store.unit() as tx:
        if not await tx.first_time([] if turn.by_invoke else turn.keys):
            return None
        outcome = await tags.do_tag_chat(
            tx, chat_id, turn.person, add=add, remove=remove, exactly=exactly
        )
        tx.enqueue(notify_tagging(ctx, turn, outcome))
    return _pressed_card(ctx, turn, outcome)


async def tag_command(ctx: FlowContext, turn: Turn) -> None:
    """``/tag <name> ...`` or ``/untag <name> ...`` in a chat's thread."""
    chat_id = await ctx.chat_for_thread(turn.thread) if turn.thread else None
    if chat_id is None:
        await mention_reply(ctx, turn, "agent.no_chat")
        return
    names = tuple(_names(turn.argument))
    if not names:
        await mention_reply(ctx, turn, "tags.command_usage")
        return
    if turn.word == "untag":
        await _tag(ctx, turn, chat_id, remove=names)
    else:
        await _tag(ctx, turn, chat_id, add=names)


async def card_tag(ctx: FlowContext, turn: Turn, chat_id: int) -> dict[str, Any] | None:
    """The card's Tag action: the chat gets exactly the tags selected on the card."""
    return await _tag(ctx, turn, chat_id, exactly=selected_tags(turn.card))
