"""Routing flows: the request card with its @mentions, the customer's choice of
department, moving a chat, and announcing unanswered chats."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from babel.dates import format_datetime, get_timezone_location

from cards.departments import department_choice, with_mentions, with_note
from cards.markdown import card_text, mention_markup, message_text
from cards.request import card_activity, format_duration
from dialogs.assignment import assign_chat
from dialogs.chatcards import chat_card, chat_card_activity
from dialogs.context import FlowContext
from dialogs.firstbot import handed_posts
from dialogs.i18n import Texts, department_name
from dialogs.replies import (
    Mention,
    card_update,
    new_thread,
    text_activity,
    to_conversation,
    to_customer,
    to_thread,
)
from dialogs.turn import Turn
from store import assignment, firstbot, offers, routing, targets
from store.audience import Audience
from store.outbox import Outgoing
from store.routing import Announced, Routed, UnknownDepartment
from store.unit import Unit
from store.views import ChatView, Person
from store.vocabulary import Refusal, Refused


def _mentions_text(people: tuple[Person, ...]) -> str:
    return ", ".join(mention_markup(p) for p in people)


def _unique(people: tuple[Person, ...]) -> tuple[Person, ...]:
    seen: dict[str, Person] = {}
    for p in people:
        seen.setdefault(p.teams_id, p)
    return tuple(seen.values())


def announced_card(ctx: FlowContext, chat: ChatView, audience: Audience) -> dict[str, Any]:
    """The request card as first posted: online agents @mentioned (or a note that nobody
    is online), and for a returning customer their earlier chats."""
    t = ctx.team_texts
    # A chat just opened is viewed without queries; its history comes with the audience.
    chat = replace(
        chat,
        earlier_chats=audience.earlier_chats,
        earlier_owner=audience.last_owner,
        linked=audience.linked,
        supervisors=tuple(p.teams_id for p in audience.supervisors),
    )
    card = chat_card(ctx, chat)
    if audience.back_at is not None:
        card = with_note(card, t("card.outside_hours", when=back_text(audience.back_at, t)))
    if audience.online:
        return with_mentions(
            card, t("card.online_agents", mentions=_mentions_text(audience.online)), audience.online
        )
    return with_note(card, t("card.nobody_online"))


def post_request(
    ctx: FlowContext, chat: ChatView, audience: Audience, previous: ChatView | None
) -> list[Outgoing]:
    """Post the chat's card as a new thread in its room; a card it had in another room is
    updated to say where it went."""
    assert chat.room_reference is not None
    t = ctx.team_texts
    items = []
    if previous is not None:
        moved = t("card.moved", department=card_text(chat.department))
        old = chat_card(ctx, previous, note=moved)
        # Accept belongs to the new card only; nobody has a view of their own here any more.
        old.pop("actions", None)
        old.pop("refresh", None)
        items.append(card_update(chat.id, card_activity(old, moved)))
    card = announced_card(ctx, chat, audience)
    items.append(new_thread(chat.id, chat.room_reference, chat_card_activity(ctx, card, chat)))
    return items


def back_text(at: datetime, t: Texts) -> str:
    """When a team is back, as customers and agents read it: its own date and time, and
    its zone as people name it ("08:00 ngày 08/12/2026 (Giờ Việt Nam)"), never the raw
    IANA name."""
    when = format_datetime(at, t("time.back_format"), locale=t.language)
    return f"{when} ({get_timezone_location(at.tzinfo, locale=t.language)})"


def customer_notice(
    chat: ChatView, audience: Audience, t: Texts, *, mail: bool, offline_shown: bool = False
) -> dict[str, Any]:
    """Honest about who is there: outside business hours, when the team is back; else an
    acknowledgement, or that nobody is online now (only that the message is kept, when the
    website said so already: one notice, not two). When nobody can answer now and the
    customer left no contact, the same notice asks for one once and says how the answer
    will come (``mail``: an agent's reply is mailed to a customer who left)."""
    department = message_text(department_name(chat.department, chat.department_names, t))
    if audience.back_at is not None:
        text = t("customer.outside_hours", when=back_text(audience.back_at, t))
    elif audience.online:
        return text_activity(t("customer.ack"))
    elif offline_shown:
        text = t("customer.kept")
    else:
        text = t("customer.nobody_online", department=department)
    if not chat.customer_contact:
        text += "\n\n" + t("customer.ask_contact_mail" if mail else "customer.ask_contact")
    return text_activity(text)


def choice_prompt(audience: Audience, t: Texts, name: str, channel: str = "") -> dict[str, Any]:
    return department_choice(
        audience.departments,
        t("customer.choose_department", name=message_text(name)),
        t("customer.choose_department_hint"),
        channel,
        t("customer.choose_button"),
    )


def waiting_notice(chat: ChatView, people: tuple[Person, ...], text: str) -> Outgoing:
    mentions = tuple(Mention(p) for p in people)
    return to_thread(chat.id, text_activity(text, mentions=mentions))


def notify_unanswered(ctx: FlowContext, announced: Announced, now: datetime) -> list[Outgoing]:
    """A chat nobody accepted in time: its thread @mentions the online agents and the
    supervisors, and the customer hears their place. A held chat's card is posted now."""
    chat, audience = announced.chat, announced.audience
    t = ctx.team_texts
    if chat.held:
        # What the customer wrote while the card waited follows it, as it would have.
        name = message_text(chat.customer_name)
        return [
            *post_request(ctx, chat, audience, None),
            *(
                to_thread(
                    chat.id,
                    text_activity(t("agent.customer_says", name=name, text=message_text(line))),
                    by="customer",
                )
                for line in announced.later_lines
            ),
        ]
    people = _unique(audience.online + audience.supervisors)
    waited = format_duration(now - chat.created_at, t)
    text = t("agent.unanswered", mentions=_mentions_text(people), waited=waited)
    customer_t = ctx.customer_texts(chat.customer_locale)
    department = message_text(
        department_name(chat.department, chat.department_names, customer_t)
    )
    position = customer_t(
        "customer.still_waiting", position=audience.position, department=department
    )
    return [waiting_notice(chat, people, text), to_customer(chat, text_activity(position))]


async def next_timer(ctx: FlowContext) -> datetime | None:
    """When the timers next have something to fire (an announcement, an offer's expiry, a
    response target's reminder or breach), read in one transaction: the timers sleep until then."""
    async with ctx.store.reading() as tx:
        due = [
            await routing.next_unanswered(tx),
            await offers.next_offer_expiry(tx),
            await assignment.next_offer_due(tx),
            await targets.next_target_due(tx),
        ]
    return min((at for at in due if at is not None), default=None)


async def announce_unanswered(ctx: FlowContext) -> int:
    """The timer job: chats nobody accepted in time are announced again, each claimed in
    its own unit (a replica that loses the claim announces nothing)."""
    async with ctx.store.reading() as tx:
        due = await routing.due_unanswered(tx)
    fired = 0
    for chat_id, held in due:
        async with ctx.store.unit() as tx:
            # A held chat may be the company bot's, silent past its deadline: people take it.
            if held:
                await firstbot.do_hand_over(tx, chat_id, firstbot.TIMEOUT, {})
            if await _release(ctx, tx, chat_id, held, []):
                fired += 1
    return fired


async def _release(
    ctx: FlowContext, tx: Unit, chat_id: int, held: bool, lines: list[tuple[bool, str]]
) -> bool:
    """Announce a due chat (a held one: post its card and route it); a bot's chat gets
    its part folded in the thread (``lines``: the bot's own transcript, else what the
    bridge relayed). False: another replica announced it."""
    announced = await routing.do_announce(tx, chat_id, held)
    if announced is None:
        return False
    chat = announced.chat
    if chat.held and chat.bot_context is not None:
        lines = lines or await firstbot.bot_lines(tx, chat_id)
        tx.enqueue(post_request(ctx, chat, announced.audience, None))
        tx.enqueue(handed_posts(ctx, chat, announced.audience, lines))
    else:
        tx.enqueue(notify_unanswered(ctx, announced, tx.now))
    if held:
        await assign_chat(ctx, tx, chat_id)
    return True


async def hand_over(
    ctx: FlowContext,
    chat_id: int,
    reason: str,
    context: dict[str, Any],
    lines: list[tuple[bool, str]],
) -> bool:
    """The company's bot lets a chat go (its ``handoff.initiate``, or the customer asked
    for a person): it enters the department's routing now, its card showing what the bot
    knew. False: it had been handed over already."""
    async with ctx.store.unit() as tx:
        if not await firstbot.do_hand_over(tx, chat_id, reason, context):
            return False
        return await _release(ctx, tx, chat_id, True, lines)


def notify_came_online(
    ctx: FlowContext, person: Person, waiting: Sequence[ChatView]
) -> list[Outgoing]:
    """An agent came online: each chat waiting in their departments @mentions them."""
    text = ctx.team_texts("agent.chat_waiting", mention=mention_markup(person))
    return [waiting_notice(chat, (person,), text) for chat in waiting]


def _reply(turn: Turn, text: str) -> list[Outgoing]:
    mention = Mention(turn.person)
    return [to_conversation(turn.reference, text_activity(text, mentions=(mention,)))]


MoveOutcome = Routed | UnknownDepartment | Refused


def notify_move(ctx: FlowContext, turn: Turn, outcome: MoveOutcome) -> list[Outgoing]:
    """The moved chat's card in its new room (the old one marked), or why not."""
    t = ctx.team_texts
    markup = mention_markup(turn.person)
    if isinstance(outcome, Routed):
        return post_request(ctx, outcome.chat, outcome.audience, outcome.previous)
    if isinstance(outcome, UnknownDepartment):
        names = message_text(", ".join(name for _, name in outcome.departments))
        asked = message_text(turn.argument)
        text = t("agent.unknown_department", mention=markup, department=asked, known=names)
        return _reply(turn, text)
    if outcome.reason == Refusal.UNKNOWN_CHAT:
        return _reply(turn, t("agent.no_chat", mention=markup))
    return _reply(turn, t("agent.move_refused", mention=markup))


async def move(ctx: FlowContext, turn: Turn) -> None:
    """``/move <Department>`` in a waiting chat's thread, by a supervisor."""
    person = turn.person
    thread = turn.thread
    if thread is None or not turn.argument.strip():
        text = ctx.team_texts("agent.move_usage", mention=mention_markup(person))
        await ctx.store.notify(turn.keys, _reply(turn, text))
        return
    async with ctx.store.reading() as tx:
        checked = await routing.check_move(tx, thread, person, turn.argument)
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        outcome: MoveOutcome = checked
        if isinstance(checked, routing.MoveChecked):
            outcome = await routing.do_move(tx, checked, person)
        tx.enqueue(notify_move(ctx, turn, outcome))
