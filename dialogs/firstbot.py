"""A company bot answers first: its answers to the customer, what the agents see when it
hands over, and the ``handoff.status`` events it is told (``store/firstbot.py`` keeps the
state; ``bot/firstbot.py`` talks Direct Line)."""

from __future__ import annotations

from functools import partial
from typing import Any

from cards.firstbot import bot_part_card
from cards.markdown import message_text
from cards.request import card_activity
from dialogs.context import FlowContext
from dialogs.departments import change_department
from dialogs.i18n import Texts
from dialogs.notices import mention_answer, mention_reply
from dialogs.replies import by_agent, to_conversation, to_thread
from dialogs.turn import Turn
from store import departments, firstbot
from store.audience import Audience
from store.departments import FirstBotSet
from store.outbox import Outgoing
from store.views import ChatView, chat_view
from store.vocabulary import BotEvent, Refusal, Refused

HANDOFF_INITIATE = "handoff.initiate"
HANDOFF_STATUS = "handoff.status"
# The bot's card kinds a customer's channel may show as they are (others become text).
_CARD_TYPES = ("application/vnd.microsoft.card.",)


def asks_for_person(text: str, t: Texts) -> bool:
    """Whether a customer's line asks for a person: one of the locale's phrases (the
    button the bridge adds sends one of them), the whole line, any case."""
    said = " ".join(text.split()).casefold().strip(" .!?")
    phrases = {p.strip().casefold() for p in t("person_request.phrases").split("|")}
    return bool(said) and (said in phrases or said == t("person_request.button").casefold())


def bot_status(chat: ChatView, state: str, message: str | None = None) -> list[Outgoing]:
    """``handoff.status`` to the bot that had the chat (nothing for a chat it never had),
    through the outbox: kept until delivered, each state once (its key says which)."""
    if chat.bot_context is None:
        return []
    value: dict[str, Any] = {"state": state}
    if message is not None:
        value["message"] = message
    event = BotEvent(chat.id, HANDOFF_STATUS, value, f"{chat.ref}:{state}")
    return [Outgoing.of(f"bot:{chat.id}", event)]


def for_customer(activity: dict[str, Any], t: Texts) -> dict[str, Any] | None:
    """The bot's message as it goes to the customer: its text, its cards, its suggested
    actions (the channel shows what it can: cards as text, buttons as a list), with the
    bridge's own button to ask for a person. None: nothing a customer could read."""
    text = activity.get("text") or ""
    cards = [
        a
        for a in activity.get("attachments") or []
        if isinstance(a, dict) and str(a.get("contentType", "")).startswith(_CARD_TYPES)
    ]
    if not text and not cards:
        return None
    out: dict[str, Any] = {"type": "message", "text": text}
    if cards:
        out["attachments"] = cards
    offered = (activity.get("suggestedActions") or {}).get("actions") or []
    actions = [a for a in offered if isinstance(a, dict) and a.get("title")]
    person = t("person_request.button")
    actions.append({"type": "imBack", "title": person, "value": person})
    out["suggestedActions"] = {"actions": actions}
    return out


def said_by_bot(activity: dict[str, Any]) -> str:
    """The bot's words as the transcript keeps them (its cards named by their text)."""
    parts = [activity.get("text") or ""]
    for card in activity.get("attachments") or []:
        content = card.get("content") if isinstance(card, dict) else None
        if isinstance(content, dict):
            parts += [str(content.get(k)) for k in ("title", "text") if content.get(k)]
    return "\n".join(p for p in parts if p)


def transcript_lines(activity: dict[str, Any]) -> list[tuple[bool, str]]:
    """The lines of a ``handoff.initiate``'s ``Transcript`` attachment (the bot's
    activities with the customer's): (the bot's line, text), oldest first."""
    lines: list[tuple[bool, str]] = []
    for item in activity.get("attachments") or []:
        if not isinstance(item, dict) or item.get("name") != "Transcript":
            continue
        content = item.get("content")
        found = content.get("activities") if isinstance(content, dict) else content
        for said in found if isinstance(found, list) else []:
            if isinstance(said, dict) and said.get("type") == "message" and said.get("text"):
                role = (said.get("from") or {}).get("role")
                lines.append((role == "bot", str(said["text"])))
    return lines


async def bot_answered(
    ctx: FlowContext, chat_id: int, watermark: str | None, activities: list[dict[str, Any]]
) -> bool:
    """The bot's new messages go to the customer (signed with the bot's name, like an
    agent's line) and into the transcript as the bot's (once: not as the bridge's own
    words too), in one unit; False: the chat left the bot meanwhile (nothing is sent)."""
    said = [a for a in activities if a.get("type") == "message"]
    async with ctx.store.unit() as tx:
        if not await firstbot.do_bot_said(
            tx, chat_id, watermark, [said_by_bot(a) for a in said if said_by_bot(a)]
        ):
            return False
        if said:
            chat = await chat_view(tx.session, chat_id)
            t = ctx.customer_texts(chat.customer_locale)
            reference = chat.customer_reference
            for activity in said:
                shown = for_customer(activity, t)
                if shown is not None:
                    name = (activity.get("from") or {}).get("name") or t("card.bot_name")
                    tx.enqueue([to_conversation(reference, by_agent(shown, str(name)))])
    return True


def handed_posts(
    ctx: FlowContext, chat: ChatView, audience: Audience, lines: list[tuple[bool, str]]
) -> list[Outgoing]:
    """After a bot's chat was posted to the room: its part of the chat folded in one post
    in the thread, and, when nobody is online to take it, ``failed`` for the bot."""
    t = ctx.team_texts
    posts: list[Outgoing] = []
    if lines:
        card = bot_part_card(lines, chat.customer_name, t)
        summary = t("card.bot_part", count=len(lines))
        posts.append(to_thread(chat.id, card_activity(card, summary)))
    if not audience.online:
        posts += bot_status(chat, "failed", t("agent.bot_nobody_online"))
    return posts


def notify_first_bot(
    ctx: FlowContext, turn: Turn, outcome: FirstBotSet | Refused
) -> list[Outgoing]:
    """Whether the company's bot now answers the department's new chats first, or why not."""
    if isinstance(outcome, Refused) and outcome.reason == Refusal.NOT_A_ROOM:
        return [mention_answer(ctx, turn, "agent.not_a_room")]
    if isinstance(outcome, Refused):
        return [mention_answer(ctx, turn, "agent.first_bot_refused")]
    department = message_text(outcome.department)
    if not outcome.on:
        return [mention_answer(ctx, turn, "agent.first_bot_off", department=department)]
    if ctx.first_bot is None:
        return [mention_answer(ctx, turn, "agent.first_bot_unconfigured", department=department)]
    return [mention_answer(ctx, turn, "agent.first_bot_on", department=department)]


async def first_bot_command(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot firstbot on|off`` by a supervisor in the room."""
    word = turn.argument.strip().lower()
    if word not in ("on", "off"):
        await mention_reply(ctx, turn, "agent.first_bot_usage")
        return
    change = partial(departments.do_set_first_bot, on=word == "on")
    await change_department(ctx, turn, change, notify_first_bot)
