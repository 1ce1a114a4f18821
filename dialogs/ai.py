"""AI help for agents: suggested replies (``/suggest``), a chat's summary for whoever
takes it over by a transfer and for the thread and transcript when it closes, and
translations (a customer's line into the team's language beside it; ``/translate`` an
agent's reply into the customer's).

Off unless the bridge has a provider and the chat's department is listed. Each call is
claimed against its budgets in a unit of work of its own (once per inbound activity),
then runs after that commit as a task of its own (``Assistant.spawn``); its answer is
queued in the outbox like any notice. Nothing here runs inside a relay's unit of work, so
a provider that fails or hangs never delays nor loses a customer's or an agent's line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cards.markdown import message_text
from dialogs.console import to_person
from dialogs.context import Assistant, FlowContext
from dialogs.notices import mention_reply
from dialogs.replies import text_activity, to_thread
from dialogs.turn import Turn
from store import ai, moves
from store.ai import ChatMaterial
from store.models import ChatState, MessageKind
from store.outbox import Outgoing
from store.views import ChatView, Person

log = logging.getLogger(__name__)

Deliver = Callable[[ChatMaterial], Awaitable[list[Outgoing]]]


async def _claim(
    ctx: FlowContext, assistant: Assistant, chat_id: int, keys: tuple[str, ...]
) -> bool | None:
    """One call claimed for the chat if its department has AI help and budget left
    (once per inbound activity ``keys``): True; False when a budget is spent; None when
    the department has no AI help or the activity was handled before. Nothing is counted
    unless True. A department without AI help costs one read, no write."""
    async with ctx.store.reading() as tx:
        found = await ai.chat_department(tx, chat_id)
    if found is None or not assistant.enabled_for(found[1]):
        return None
    async with ctx.store.unit() as tx:
        if not await tx.first_time(keys):
            return None
        return await ai.do_claim_call(
            tx, chat_id, found[0], per_chat=assistant.per_chat, per_day=assistant.per_day
        )


async def _call(
    ctx: FlowContext, chat_id: int, deliver: Deliver, line: tuple[bool, str] | None
) -> None:
    """The background half: read the chat's lines (or only ``line``), call the provider,
    queue the answer."""
    async with ctx.store.reading() as tx:
        material = await ai.chat_material(tx, chat_id, only=line)
    if material is None or not material.lines:
        return
    outgoing = await deliver(material)
    if outgoing:
        await ctx.store.notify((), outgoing)


def _start(
    ctx: FlowContext,
    chat_id: int,
    keys: tuple[str, ...],
    deliver: Deliver,
    line: tuple[bool, str] | None = None,
    spent: list[Outgoing] | None = None,
) -> None:
    """Claim and call in a task of its own, after the caller's commit; ``spent``: what
    to queue instead when a budget is spent."""
    assistant = ctx.assistant
    if assistant is None:
        return

    async def run() -> None:
        try:
            claimed = await _claim(ctx, assistant, chat_id, keys)
            if claimed:
                await _call(ctx, chat_id, deliver, line)
            elif claimed is False:
                log.info("ai budget spent for chat %s", chat_id)
                if spent:
                    await ctx.store.notify((), spent)
        except Exception:  # a background task has nobody to tell; the relay is untouched
            log.exception("ai help for chat %s failed", chat_id)

    assistant.spawn(run())


# -- suggested replies -----------------------------------------------------------------


def suggestions_activity(
    ctx: FlowContext, chat: ChatView, replies: list[str] | None
) -> dict[str, Any]:
    """The owner's personal message: the replies, numbered, each escaped for Teams."""
    t = ctx.team_texts
    customer = message_text(chat.customer_name)
    if not replies:
        return text_activity(t("ai.suggest_failed", customer=customer))
    lines = [t("ai.suggest_title", customer=customer)]
    lines += [f"{n}. {message_text(reply)}" for n, reply in enumerate(replies, 1)]
    lines.append(t("ai.suggest_hint"))
    return text_activity("\n\n".join(lines))


async def _thread_chat(
    ctx: FlowContext, turn: Turn
) -> tuple[int, ChatView | None, Assistant] | None:
    """The chat of the thread a command was written in, and the assistant, when its
    department has AI help; None (and the writer told why) otherwise."""
    chat_id = await ctx.chat_for_thread(turn.thread) if turn.thread else None
    if chat_id is None:
        await mention_reply(ctx, turn, "agent.no_chat")
        return None
    async with ctx.store.reading() as tx:
        chat = await moves.chat_view_of(tx, chat_id)
        found = await ai.chat_department(tx, chat_id)
    assistant = ctx.assistant
    if assistant is None or found is None or not assistant.enabled_for(found[1]):
        await mention_reply(ctx, turn, "ai.off")
        return None
    return chat_id, chat, assistant


async def suggest_command(ctx: FlowContext, turn: Turn) -> None:
    """``/suggest`` in a chat's thread, by its owner: up to three replies, sent to the
    owner alone (a personal message: nobody else in the room sees them)."""
    asked = await _thread_chat(ctx, turn)
    if asked is None:
        return
    chat_id, chat, assistant = asked
    owner = turn.person.teams_id
    if chat is None or chat.state != ChatState.ACTIVE or chat.owner_teams_id != owner:
        await mention_reply(ctx, turn, "ai.suggest_owner_only")
        return
    room = chat.room_reference or turn.reference
    glossary = ", ".join(chat.department_tags)

    async def deliver(material: ChatMaterial) -> list[Outgoing]:
        replies = await assistant.suggest(material, glossary)
        return [to_person(room, owner, suggestions_activity(ctx, chat, replies))]

    customer = message_text(chat.customer_name)
    spent = text_activity(ctx.team_texts("ai.budget_spent", customer=customer))
    _start(ctx, chat_id, turn.keys, deliver, spent=[to_person(room, owner, spent)])


# -- summaries -------------------------------------------------------------------------


def after_transfer(
    ctx: FlowContext, chat: ChatView, new_owner: Person, keys: tuple[str, ...]
) -> None:
    """The chat's summary for the agent who just took it over, in a personal message."""
    if ctx.assistant is None or chat.room_reference is None:
        return
    assistant, room = ctx.assistant, chat.room_reference

    async def deliver(material: ChatMaterial) -> list[Outgoing]:
        summary = await assistant.summarize(material, ctx.default_language)
        if summary is None:
            return []
        t = ctx.team_texts
        text = t("ai.summary_transfer", customer=message_text(chat.customer_name))
        activity = text_activity(f"{text}\n\n{message_text(summary)}")
        return [to_person(room, new_owner.teams_id, activity)]

    _start(ctx, chat.id, tuple(f"{key}|ai" for key in keys), deliver)


def after_close(ctx: FlowContext, chat: ChatView, keys: tuple[str, ...]) -> None:
    """The closed chat's summary in its thread, and kept in its transcript as a note."""
    if ctx.assistant is None:
        return
    assistant = ctx.assistant

    async def deliver(material: ChatMaterial) -> list[Outgoing]:
        summary = await assistant.summarize(material, ctx.default_language)
        if summary is None:
            return []
        t = ctx.team_texts
        async with ctx.store.unit() as tx:
            tx.note(chat.id, MessageKind.NOTE, t("ai.author"), summary)
            text = t("ai.summary_closed", summary=message_text(summary))
            tx.enqueue([to_thread(chat.id, text_activity(text))])
        return []

    _start(ctx, chat.id, tuple(f"{key}|ai" for key in keys), deliver)


# -- translation -----------------------------------------------------------------------


def translate_line(
    ctx: FlowContext, chat_id: int, text: str, customer_language: str, keys: tuple[str, ...]
) -> None:
    """A customer's line in the agents' language, posted in the thread under the original
    (which the relay already queued), when the customer's language is not the team's."""
    if ctx.assistant is None or not text.strip() or customer_language == ctx.default_language:
        return
    assistant = ctx.assistant

    async def deliver(material: ChatMaterial) -> list[Outgoing]:
        translated = await assistant.translate(material, ctx.default_language)
        if translated is None:
            return []
        words = ctx.team_texts("ai.translation", text=message_text(translated))
        return [to_thread(chat_id, text_activity(words))]

    _start(ctx, chat_id, tuple(f"{key}|ai" for key in keys), deliver, line=(True, text))


async def translate_command(ctx: FlowContext, turn: Turn) -> None:
    """``/translate <reply>`` in a chat's thread, by a participant: the reply in the
    customer's language, sent to the writer alone to check and send."""
    asked = await _thread_chat(ctx, turn)
    if asked is None:
        return
    chat_id, chat, assistant = asked
    writer = turn.person.teams_id
    seated = chat is not None and any(m.person.teams_id == writer for m in chat.participants)
    if chat is None or chat.state == ChatState.CLOSED or not seated:
        await mention_reply(ctx, turn, "ai.translate_participants_only")
        return
    if not turn.argument.strip():
        await mention_reply(ctx, turn, "ai.translate_usage")
        return
    room = chat.room_reference or turn.reference
    into = ctx.customer_texts(chat.customer_locale).language

    async def deliver(material: ChatMaterial) -> list[Outgoing]:
        translated = await assistant.translate(material, into)
        t = ctx.team_texts
        if translated is None:
            return [to_person(room, writer, text_activity(t("ai.translate_failed")))]
        text = t("ai.translated_reply", text=message_text(translated))
        return [to_person(room, writer, text_activity(text))]

    _start(ctx, chat_id, turn.keys, deliver, line=(False, turn.argument.strip()))
