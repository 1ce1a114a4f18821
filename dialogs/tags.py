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
from dialogs.notices import manage_compose, mention_answer, mention_reply
from dialogs.replies import Mention, card_update, text_activity, to_conversation
from store.core import ChatView, NotAllowed
from store.outbox import Outgoing
from store.tagkeys import TAG_LIMIT, tag_name, valid_tag
from store.tools import Tagged, UnknownTags


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
    person = person_of(activity)
    channel = channel_of(activity)
    keys = activity_keys(activity)
    compose = manage_compose(ctx, activity)
    if action == "list":
        await list_tags(ctx, activity)
    elif action == "add" and names:
        if not await _invalid(ctx, activity, names):
            await ctx.store.add_tags(person, channel, names, keys, compose)
    elif action == "remove" and len(names) == 1:
        await ctx.store.remove_tag(person, channel, names[0], keys, compose)
    elif action == "require" and names in (["on"], ["off"]):
        await ctx.store.require_tag(person, channel, names == ["on"], keys, compose)
    else:
        await mention_reply(ctx, activity, "tags.usage", bot=bot_name(activity))


async def list_tags(ctx: FlowContext, activity: dict[str, Any]) -> None:
    t = ctx.team_texts
    department, names, required = await ctx.store.room_tags(channel_of(activity))
    if department is None:
        await mention_reply(ctx, activity, "tools.no_room", bot=bot_name(activity))
        return
    if names:
        rule = t("tags.rule_required" if required else "tags.rule_optional")
        text = t("tags.list", department=department, tags=", ".join(names), rule=rule)
    else:
        text = t("tags.list_empty", department=department, bot=bot_name(activity))
    answer = to_conversation(reference_of(activity), text_activity(text))
    await ctx.store.notify(activity_keys(activity), [answer])


class _Tagging:
    """One tagging of one chat, by command (answered in the thread) or by the card."""

    def __init__(self, ctx: FlowContext, activity: dict[str, Any], *, by_invoke: bool) -> None:
        self.ctx = ctx
        self.activity = activity
        self.person = person_of(activity)
        self.by_invoke = by_invoke
        self.t = ctx.team_texts

    def _card(self, chat: ChatView, note: str | None = None) -> dict[str, Any]:
        """The presser's view of the card (the invoke's answer)."""
        return chat_card(self.ctx, chat, viewer=self.person.teams_id, note=note)

    def on_tagged(self, chat: ChatView) -> list[Outgoing]:
        """The card shows the tags; the thread gets no notice (nobody has to act on it)."""
        return [card_update(chat.id, chat_card_activity(self.ctx, chat_card(self.ctx, chat), chat))]

    def _unknown_text(self, outcome: UnknownTags, mention: str) -> str:
        known = ", ".join(outcome.known) or self.t("tags.none_known")
        return self.t(
            "tags.unknown", mention=mention, unknown=", ".join(outcome.unknown), known=known
        )

    def on_unknown(self, outcome: UnknownTags) -> list[Outgoing]:
        if self.by_invoke:
            return []
        mention = Mention(self.person)
        text = self._unknown_text(outcome, mention.markup)
        activity = text_activity(text, mentions=(mention,))
        return [to_conversation(reference_of(self.activity), activity)]

    def on_refused(self, chat: ChatView) -> list[Outgoing]:
        if self.by_invoke:
            return []
        return [mention_answer(self.ctx, self.activity, "tags.refused")]

    async def run(
        self,
        chat_id: int,
        *,
        add: tuple[str, ...] = (),
        remove: tuple[str, ...] = (),
        exactly: tuple[str, ...] | None = None,
    ) -> dict[str, Any] | None:
        """Tag the chat; for a card press, the card to answer with (None: no such chat)."""
        outcome = await self.ctx.store.tag_chat(
            chat_id,
            self.person,
            add=add,
            remove=remove,
            exactly=exactly,
            dedupe_keys=[] if self.by_invoke else activity_keys(self.activity),
            on_tagged=self.on_tagged,
            on_unknown=self.on_unknown,
            on_refused=self.on_refused,
        )
        match outcome:
            case Tagged(chat):
                return self._card(chat)
            case UnknownTags(chat=chat):
                note = self._unknown_text(outcome, self.person.name)
                return self._card(chat, note)
            case NotAllowed(chat):
                note = self.t("tags.refused", mention=self.person.name)
                return self._card(chat, note)
        return None


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
    tagging = _Tagging(ctx, activity, by_invoke=False)
    if remove:
        await tagging.run(chat_id, remove=names)
    else:
        await tagging.run(chat_id, add=names)


async def card_tag(
    ctx: FlowContext, activity: dict[str, Any], chat_id: int, *, by_invoke: bool
) -> dict[str, Any] | None:
    """The card's Tag action: the chat gets exactly the tags selected on the card."""
    return await _Tagging(ctx, activity, by_invoke=by_invoke).run(
        chat_id, exactly=selected_tags(activity)
    )
