"""The customer's side: every message is stored; the first one opens a chat.

With several departments the customer picks one first (a card's button, or its word
from the suggested actions); until then the chat waits and keeps every message.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from cards.departments import CHOOSE_DEPARTMENT
from cards.markdown import message_text
from dialogs import ai
from dialogs.activity import offered_contact
from dialogs.assignment import assign_chat
from dialogs.attachments import Files, as_attachments, links, names, stored_text
from dialogs.context import FlowContext
from dialogs.firstbot import asks_for_person
from dialogs.i18n import Texts, languages
from dialogs.mail import transcript_request
from dialogs.ratings import rating_message
from dialogs.replies import (
    notice,
    notice_to,
    text_activity,
    to_conversation,
    to_customer,
    to_thread,
)
from dialogs.rooms import DEPARTMENT_NAME_LIMIT
from dialogs.routing import choice_prompt, customer_notice, hand_over, post_request
from dialogs.turn import Turn
from store import firstbot, routing
from store.audience import Audience, Choices
from store.channels import facts
from store.core import ChatView, Duplicate
from store.intake import (
    Appended,
    CustomerTurn,
    FloodLimit,
    Opened,
    Picked,
    do_customer_message,
)
from store.mail import email_address
from store.outbox import Outgoing
from store.routing import Routed, Unchanged


def _chosen(turn: Turn) -> str | None:
    """The department key of a pressed choice button (a Submit arrives as ``value``)."""
    value = turn.value
    if value is not None and value.get("action") == CHOOSE_DEPARTMENT:
        key = value.get("department")
        return key[:64] if isinstance(key, str) else None
    return None


async def customer_message(ctx: FlowContext, turn: Turn) -> None:
    """A customer's message: stored, and answered; the first one opens a chat."""
    reference = turn.reference
    t = ctx.customer_texts(turn.locale)
    team = ctx.team_texts
    text = turn.written  # exactly as the customer wrote it: relayed and kept untouched
    prechat = turn.prechat
    user_id = turn.customer
    name = prechat.name or turn.person.name
    if anonymous(name, (user_id, turn.person.teams_id)):
        # "Khách #4821": the same visitor keeps their number, agents tell visitors apart.
        name = team("visitor.anonymous_name", number=visitor_number(user_id))
    keys = turn.keys
    chosen = _chosen(turn)
    if await rating_message(ctx, turn) or await transcript_request(ctx, turn):
        return
    files = turn.files
    refusal = (
        [notice_to(reference, _refused(t, files, ctx.max_attachments))] if files.refused else []
    )
    if not text.strip() and not files.passed and chosen is None:
        unsupported = [notice_to(reference, t("customer.unsupported"))]
        await ctx.store.notify(keys, refusal or unsupported)
        return
    if len(text) > ctx.max_text_length:
        too_long = t("customer.too_long", length=len(text), limit=ctx.max_text_length)
        await ctx.store.notify(keys, [notice_to(reference, too_long)])
        return
    customer = CustomerTurn(
        channel_id=turn.channel,
        user_id=user_id,
        conversation_key=turn.conversation_key,
        name=name,
        locale=t.language,
        reference=reference,
        text=stored_text(text, files.passed),
        source_key=keys[0] if keys else None,
        attachments=files.passed,
        contact=prechat.contact,
        offered_contact=offered_contact(text) if not prechat.contact else None,
    )

    def posted(chat_id: int, *, with_text: bool) -> list[Outgoing]:
        """What the customer sent, as one post in the thread: their words and their
        files together (the first words are on the card already)."""
        said = with_text and bool(text.strip())
        if not said and not files.passed:
            return []
        if said:
            shown = team("agent.customer_says", name=message_text(name), text=message_text(text))
            if files.passed:
                shown += "\n\n" + links(files.passed)
        else:
            shown = team("agent.customer_files", name=message_text(name), files=links(files.passed))
        activity = text_activity(shown)
        if files.passed:
            activity["attachments"] = as_attachments(files.passed, images_only=True)
        return [to_thread(chat_id, activity, by="customer")]

    channel = turn.channel

    def prompt(known: tuple[tuple[str, str], ...], first: bool = False) -> list[Outgoing]:
        question = choice_prompt(Audience(departments=known), t, name, channel)
        return [to_conversation(reference, greeted_first(turn, t, question) if first else question)]

    def on_routed(
        chat: ChatView, audience: Audience, previous: ChatView | None, first: bool = False
    ) -> list[Outgoing]:
        if chat.first_bot:
            return list(refusal)  # the company's bot answers (``dialogs/firstbot.py``)
        if chat.held:
            # Beyond the intake limits: kept and answered; the card follows on the timer.
            held = text_activity(t("customer.held", name=message_text(name)))
            return [to_customer(chat, greeted_first(turn, t, held) if first else held), *refusal]
        told = customer_notice(
            chat, audience, t, mail=ctx.mail_enabled, offline_shown=turn.offline_shown
        )
        return [
            to_customer(chat, greeted_first(turn, t, told) if first else told),
            *post_request(ctx, chat, audience, previous),
            *posted(chat.id, with_text=False),
            *refusal,
        ]

    def on_open(chat: ChatView, audience: Audience) -> list[Outgoing]:
        if chat.room_reference is not None:
            return on_routed(chat, audience, None, first=True)
        if len(audience.departments) > 1:
            return [*prompt(audience.departments, first=True), *refusal]
        no_room = greeted_first(turn, t, text_activity(t("customer.no_room")))
        return [to_conversation(reference, notice(no_room)), *refusal]

    def on_append(chat_id: int, choices: Choices | None) -> list[Outgoing]:
        if not text and not files.passed:
            return refusal
        if choices is not None:
            # Still no department: the message is kept; ask again while there is a choice.
            return [*(prompt(choices) if len(choices) > 1 else []), *refusal]
        return [*posted(chat_id, with_text=True), *refusal]

    def contact_kept(contact: str) -> list[Outgoing]:
        """The contact the customer wrote back is kept: how the answer will come now."""
        key = "customer.contact_kept_mail" if ctx.mail_enabled else "customer.contact_kept"
        if email_address(contact) is None:
            key = "customer.contact_kept_phone"
        return [notice_to(reference, t(key, contact=message_text(contact)))]

    def notify(outcome: Duplicate | Opened | Appended | Picked) -> list[Outgoing]:
        match outcome:
            case Opened(chat, audience):
                return on_open(chat, audience)
            case Appended(chat_id, choices, too_fast, held, saved_contact):
                slow_down = notice_to(reference, t("customer.too_fast"))
                return [
                    # A held chat has no thread yet: its lines are posted after its card.
                    *(refusal if held else on_append(chat_id, choices)),
                    *([slow_down] if too_fast else []),
                    *(contact_kept(saved_contact) if saved_contact else []),
                ]
        return []

    if chosen is None:
        # Only a short line can be a department's name (a suggested action's word).
        could_name = 0 < len(text.strip()) <= DEPARTMENT_NAME_LIMIT and "\n" not in text.strip()
        flood = FloodLimit(ctx.flood_messages, ctx.flood_window)

        async for attempt in ctx.store.attempts("customer message"):
            async with attempt as tx:
                outcome = await do_customer_message(
                    tx,
                    customer,
                    keys,
                    flood,
                    naming=text if could_name else None,
                    preferred=prechat.department or None,
                )
                tx.enqueue(notify(outcome))
                if isinstance(outcome, Opened) and _announced(outcome.chat):
                    await assign_chat(ctx, tx, outcome.chat.id)
        await _to_first_bot(ctx, outcome, text, t)
        translated = _posted_chat(outcome)
        if translated is not None:
            # Off the relay's path: a task of its own, after this commit.
            ai.translate_line(ctx, translated, text, t.language, keys)
        if not isinstance(outcome, Picked):
            return
        chosen = outcome.key
    key = chosen
    async for attempt in ctx.store.attempts("department choice"):
        async with attempt as tx:
            if await tx.first_time(keys):
                choice = await routing.do_choose_department(tx, customer, key)
                if isinstance(choice, Routed):
                    tx.enqueue(on_routed(choice.chat, choice.audience, choice.previous))
                    if choice.chat.first_bot and ctx.first_bot is not None:
                        ctx.first_bot.relay(choice.chat.id, text, t.language)
                    if _announced(choice.chat):
                        await assign_chat(ctx, tx, choice.chat.id)
                elif isinstance(choice, Unchanged):
                    tx.enqueue(on_append(choice.chat_id, choice.choices))
                else:
                    tx.enqueue(prompt(choice.departments))


async def _to_first_bot(ctx: FlowContext, outcome: object, text: str, t: Texts) -> None:
    """A line of a chat the company's bot has goes to the bot (after the commit), unless
    the customer asks for a person: then people take the chat now."""
    bot = ctx.first_bot
    if bot is None:
        return
    match outcome:
        case Opened(chat) if chat.first_bot:
            bot.relay(chat.id, text, t.language)
        case Appended(chat_id, None, _, True):
            if asks_for_person(text, t):
                await hand_over(ctx, chat_id, firstbot.ASKED, {}, [])
                return
            async with ctx.store.unit() as tx:
                talking = await firstbot.do_relayed(tx, chat_id)
            if talking:
                bot.relay(chat_id, text, t.language)


def _announced(chat: ChatView) -> bool:
    """Whether the chat's card was just posted in a room (not held back by the limits)."""
    return chat.room_reference is not None and not chat.held


async def customer_joined(ctx: FlowContext, turn: Turn) -> None:
    """A customer opened the chat (the website's widget, the Emulator): greeted before
    they write, once per conversation (the key is kept as long as inbound keys are)."""
    if not turn.joined:
        return
    key = f"greeted:{turn.conversation_key}"
    greeting = ctx.customer_texts(turn.locale)("customer.greeting")
    await ctx.store.notify([key], [notice_to(turn.reference, greeting)])


def greeted_first(turn: Turn, t: Texts, activity: dict[str, Any]) -> dict[str, Any]:
    """The first reply on a channel that never said the customer joined: it leads with
    the greeting (on the website it came when the chat opened)."""
    if facts(turn.channel).says_join or not activity.get("text"):
        return activity
    return {**activity, "text": f"{t('greeting.short')} {activity['text']}"}


@cache
def _guest_names() -> frozenset[str]:
    """What the website calls a visitor who gave no name, in every language."""
    return frozenset(Texts(language)("web.guest").casefold() for language in languages())


def anonymous(name: str, ids: tuple[str, ...]) -> bool:
    """Whether a customer's name says nothing about them: none, one of their ids, or
    the website's word for any visitor ("Quý khách", "Visitor")."""
    said = name.strip().casefold()
    return not said or said in _guest_names() or any(said == i.casefold() for i in ids)


def visitor_number(user_id: str) -> int:
    """A four-digit number of a visitor, the same on every visit (from their id)."""
    digest = hashlib.sha256(user_id.encode()).digest()
    return 1000 + int.from_bytes(digest[:4], "big") % 9000


def _posted_chat(outcome: Duplicate | Opened | Appended | Picked) -> int | None:
    """The chat whose thread the customer's line went to (None: not posted yet)."""
    match outcome:
        case Appended(chat_id, None, _, False):
            return chat_id
        case Opened(chat) if chat.room_reference is not None and not chat.held:
            return chat.id
    return None


def _refused(t: Texts, files: Files, limit: int) -> str:
    return t("customer.files_refused", files=names(files.refused), limit=limit)
