"""Canned answers: ``/`` lists them in a chat's thread, ``/<prefix>`` filters, ``/<shortcut>``
sends one to the customer; supervisors manage them with ``@Bot canned add|remove|list``."""

from __future__ import annotations

import re
from collections.abc import Callable

from cards.canned import canned_list_card
from cards.markdown import card_text, message_text
from cards.request import card_activity
from dialogs.context import FlowContext
from dialogs.notices import Managed, manage_room_lists, mention_reply, relay_refused
from dialogs.replies import agent_line, text_activity, to_conversation, to_thread
from dialogs.turn import Turn
from store import canned, chats
from store.access import Supervising
from store.canned import Canned
from store.unit import Unit
from store.vocabulary import Refused

NAME_LIMIT = 32
_NAME = re.compile(rf"[a-z0-9_-]{{1,{NAME_LIMIT}}}")
TEXT_LIMIT = 4000


def valid_name(name: str) -> bool:
    """Shortcuts and tags: letters, digits, ``-`` and ``_`` (kept lower-case)."""
    return _NAME.fullmatch(name) is not None


def is_command_word(shortcut: str) -> bool:
    """A shortcut named like a command could never be sent: ``/who`` runs the command."""
    # The command table names this module's handlers, so it is read when asked, not at
    # import: whatever the table holds is what a shortcut may not be.
    from dialogs.table import WORDS

    return shortcut in WORDS


def usable_shortcut(shortcut: str) -> bool:
    """A shortcut an agent can type and send (the console's form checks the same)."""
    return valid_name(shortcut) and not is_command_word(shortcut)


def fill(
    text: str, *, customer: str | None, agent: str, escape: Callable[[str], str] = message_text
) -> str:
    """Put the customer's and the agent's names where the answer says ``{customer}``/``{agent}``.

    The answer is the supervisor's Markdown; the names are escaped for a message
    (``escape``; ``str`` for the text the transcript keeps), so a customer named
    ``**SupportBot** [Verify](…)`` reads as those characters. Plain replacement, not
    ``str.format``: an answer may contain other braces.
    """
    return text.replace("{customer}", escape(customer or "")).replace("{agent}", escape(agent))


def _list_title(ctx: FlowContext, department: str | None, prefix: str) -> str:
    where = card_text(department) if department else ctx.team_texts("canned.company_wide")
    if prefix:
        return ctx.team_texts("canned.matching_title", prefix=card_text(prefix), department=where)
    return ctx.team_texts("canned.list_title", department=where)


async def lookup(ctx: FlowContext, turn: Turn, word: str) -> None:
    """``/``, ``/<prefix>`` or ``/<shortcut>`` in a chat's thread (an unknown command word
    ``word``), or the list of them all (``word`` empty)."""
    thread = turn.thread
    async with ctx.store.reading() as tx:
        found = await canned.canned_answers(tx, channel_id=turn.room, thread_id=thread)
    exact = next((a for a in found.answers if word and a.shortcut == word), None)
    if exact is not None and thread is not None:
        if found.in_chat:
            await _send(ctx, turn, thread, exact, found.customer_name)
        else:
            await mention_reply(ctx, turn, "agent.no_chat")
        return
    matching = tuple(a for a in found.answers if a.shortcut.startswith(word))
    if not matching:
        key = "canned.no_match" if word else "canned.none"
        await mention_reply(ctx, turn, key, prefix=message_text(word), bot=turn.bot)
        return
    card = canned_list_card(_list_title(ctx, found.department, word), matching, ctx.team_texts)
    reply = card_activity(card, ctx.team_texts("canned.summary"))
    await ctx.store.notify(turn.keys, [to_conversation(turn.reference, reply)])


async def _send(
    ctx: FlowContext, turn: Turn, thread: str, answer: Canned, customer: str | None
) -> None:
    """Relay a canned answer as the writer's own message (the same participant check)."""
    person = turn.person
    text = fill(answer.text, customer=customer, agent=person.name)
    kept = fill(answer.text, customer=customer, agent=person.name, escape=str)
    keys = turn.keys
    t = ctx.team_texts

    async with ctx.store.unit() as tx:
        outcome = await chats.do_agent_message(tx, thread, person, kept, keys, keep_notes=False)
        if isinstance(outcome, chats.Relayed):
            agent, shortcut = message_text(person.name), message_text(answer.shortcut)
            shown = t("canned.sent", agent=agent, shortcut=shortcut, text=text)
            tx.enqueue(
                [
                    *agent_line(
                        outcome.reference,
                        outcome.chat_id,
                        person,
                        text_activity(text),
                        outcome.mail_in,
                    ),
                    to_thread(outcome.chat_id, text_activity(shown)),
                ]
            )
        elif isinstance(outcome, Refused) and outcome.chat is not None:
            tx.enqueue(relay_refused(t, person)(outcome.chat))


async def manage(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot canned add <shortcut> <text>``, ``canned remove <shortcut>``, ``canned list``."""
    action, _, rest = turn.argument.partition(" ")
    action = action.lower()
    shortcut, _, text = rest.strip().partition(" ")
    shortcut = shortcut.removeprefix("/").lower()
    text = text.strip()
    if action == "list":
        await lookup(ctx, turn, "")
    elif action in ("add", "remove") and shortcut and not (action == "add" and not text):
        if not valid_name(shortcut):
            await mention_reply(
                ctx, turn, "canned.bad_shortcut", shortcut=message_text(shortcut), limit=NAME_LIMIT
            )
        elif action == "add" and is_command_word(shortcut):
            await mention_reply(ctx, turn, "canned.command_word", shortcut=message_text(shortcut))
        elif len(text) > TEXT_LIMIT:
            await mention_reply(ctx, turn, "canned.too_long", limit=TEXT_LIMIT)
        elif action == "add":

            async def add(tx: Unit, room: Supervising) -> Managed:
                return await canned.do_add_canned(
                    tx, room.department.id, room.agent_id, shortcut, text
                )

            await manage_room_lists(ctx, turn, add)
        else:

            async def remove(tx: Unit, room: Supervising) -> Managed:
                department = room.department.id
                return await canned.do_remove_canned(tx, department, room.agent_id, shortcut)

            await manage_room_lists(ctx, turn, remove)
    else:
        await mention_reply(ctx, turn, "canned.usage", bot=turn.bot)
