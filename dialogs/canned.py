"""Canned answers: ``/`` lists them in a chat's thread, ``/<prefix>`` filters, ``/<shortcut>``
sends one to the customer; supervisors manage them with ``@Bot canned add|remove|list``."""

from __future__ import annotations

import re
from typing import Any

from cards.canned import canned_list_card
from cards.request import card_activity
from dialogs.activity import (
    activity_keys,
    bot_name,
    channel_of,
    person_of,
    reference_of,
    thread_of,
)
from dialogs.commands import Command
from dialogs.context import FlowContext
from dialogs.notices import manage_compose, mention_reply, relay_refused
from dialogs.replies import text_activity, to_conversation, to_thread
from store import chats
from store.core import NotAllowed, Person
from store.tools import Canned

NAME_LIMIT = 32
_NAME = re.compile(rf"[a-z0-9_-]{{1,{NAME_LIMIT}}}")
# Words that are (or will be) commands: a shortcut named like one could never be used.
RESERVED = frozenset(
    {
        "setup", "online", "away", "offline", "close", "help", "note", "tag", "untag",
        "canned", "tags", "invite", "transfer", "join", "leave", "chats", "history", "supervisor",
    }
)  # fmt: skip
TEXT_LIMIT = 4000


def valid_name(name: str) -> bool:
    """Shortcuts and tags: letters, digits, ``-`` and ``_`` (kept lower-case)."""
    return _NAME.fullmatch(name) is not None


def fill(text: str, *, customer: str | None, agent: str) -> str:
    """Put the customer's and the agent's names where the answer says ``{customer}``/``{agent}``.

    Plain replacement, not ``str.format``: an answer may contain other braces.
    """
    return text.replace("{customer}", customer or "").replace("{agent}", agent)


def _list_title(ctx: FlowContext, department: str | None, prefix: str) -> str:
    where = department or ctx.team_texts("canned.company_wide")
    if prefix:
        return ctx.team_texts("canned.matching_title", prefix=prefix, department=where)
    return ctx.team_texts("canned.list_title", department=where)


async def lookup(ctx: FlowContext, activity: dict[str, Any], command: Command) -> None:
    """``/``, ``/<prefix>`` or ``/<shortcut>`` in a chat's thread (an unknown command word)."""
    thread = thread_of(activity)
    found = await ctx.store.canned_answers(channel_id=channel_of(activity), thread_id=thread)
    word = command.word
    exact = next((a for a in found.answers if word and a.shortcut == word), None)
    if exact is not None and thread is not None:
        if found.in_chat:
            await _send(ctx, activity, thread, exact, found.customer_name)
        else:
            await mention_reply(ctx, activity, "agent.no_chat")
        return
    matching = tuple(a for a in found.answers if a.shortcut.startswith(word))
    if not matching:
        key = "canned.no_match" if word else "canned.none"
        await mention_reply(ctx, activity, key, prefix=word, bot=bot_name(activity))
        return
    card = canned_list_card(_list_title(ctx, found.department, word), matching, ctx.team_texts)
    reply = card_activity(card, ctx.team_texts("canned.summary"))
    await ctx.store.notify(
        activity_keys(activity), [to_conversation(reference_of(activity), reply)]
    )


async def _send(
    ctx: FlowContext,
    activity: dict[str, Any],
    thread: str,
    answer: Canned,
    customer: str | None,
) -> None:
    """Relay a canned answer as the writer's own message (the same participant check)."""
    person = person_of(activity)
    text = fill(answer.text, customer=customer, agent=person.name)
    keys = activity_keys(activity)
    t = ctx.team_texts

    async with ctx.store.unit() as tx:
        outcome = await chats.do_agent_message(tx, thread, person, text, keys, keep_notes=False)
        if isinstance(outcome, chats.Relayed):
            shown = t("canned.sent", agent=person.name, shortcut=answer.shortcut, text=text)
            tx.enqueue(
                [
                    to_conversation(outcome.reference, text_activity(text), by=person.teams_id),
                    to_thread(outcome.chat_id, text_activity(shown)),
                ]
            )
        elif isinstance(outcome, NotAllowed):
            tx.enqueue(relay_refused(t, person)(outcome.chat))


async def manage(ctx: FlowContext, activity: dict[str, Any], command: Command) -> None:
    """``@Bot canned add <shortcut> <text>``, ``canned remove <shortcut>``, ``canned list``."""
    action, _, rest = command.argument.partition(" ")
    action = action.lower()
    shortcut, _, text = rest.strip().partition(" ")
    shortcut = shortcut.removeprefix("/").lower()
    text = text.strip()
    person: Person = person_of(activity)
    channel = channel_of(activity)
    keys = activity_keys(activity)
    bot = bot_name(activity)
    compose = manage_compose(ctx, activity)
    if action == "list":
        await lookup(ctx, activity, Command("", ""))
    elif action in ("add", "remove") and shortcut and not (action == "add" and not text):
        if not valid_name(shortcut) or shortcut in RESERVED:
            await mention_reply(
                ctx, activity, "canned.bad_shortcut", shortcut=shortcut, limit=NAME_LIMIT
            )
        elif len(text) > TEXT_LIMIT:
            await mention_reply(ctx, activity, "canned.too_long", limit=TEXT_LIMIT)
        elif action == "add":
            await ctx.store.add_canned(person, channel, shortcut, text, keys, compose)
        else:
            await ctx.store.remove_canned(person, channel, shortcut, keys, compose)
    else:
        await mention_reply(ctx, activity, "canned.usage", bot=bot)
