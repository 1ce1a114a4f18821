"""One person on several channels: the contacts agents record, the matches they unlink,
and the phone a channel verified, told in the chat's thread.

``/contact <e-mail or phone>`` in a chat's thread records the customer's contact (a
recorded contact is trusted more than one the customer typed); ``/unlink`` says the
customers matched to this one on other channels are someone else. Both redraw the card,
which names the other channels' chats and how far the match can be trusted. Nothing of
this reaches the customer: their side is unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from cards.markdown import message_text
from cards.request import linked_lines
from dialogs.activity import REQUEST_CONTACT_MARK
from dialogs.chatcards import chat_card, chat_card_activity
from dialogs.context import FlowContext
from dialogs.i18n import Texts
from dialogs.notices import mention_answer, mention_reply
from dialogs.replies import (
    Mention,
    card_update,
    refusal_key,
    text_activity,
    to_conversation,
    to_customer,
    to_thread,
)
from dialogs.turn import Turn
from store import contacts
from store.channels import facts
from store.contacts import ContactRecorded, ContactShared, Unlinked
from store.matches import PHONE, contact_of
from store.outbox import Outgoing
from store.unit import Unit
from store.views import ChatView
from store.vocabulary import Refused


def _redrawn(ctx: FlowContext, chat: ChatView) -> Outgoing:
    return card_update(chat.id, chat_card_activity(ctx, chat_card(ctx, chat), chat))


def _same_person(t: Texts, chat: ChatView) -> str:
    """The card's "also wrote from" lines, for a notice in the thread ("" without any)."""
    lines = linked_lines(chat, t)
    return "".join(f"\n\n{t('card.linked_title')}: {line}" for line in lines)


def notify_recorded(
    ctx: FlowContext, turn: Turn, outcome: ContactRecorded | Refused
) -> list[Outgoing]:
    """The thread is told who recorded which contact, and the card is redrawn (it may now
    name the same person's other chats)."""
    if isinstance(outcome, Refused):
        return [mention_answer(ctx, turn, refusal_key(outcome.reason))]
    t = ctx.team_texts
    mention = Mention(turn.person)
    text = t(
        "contacts.recorded", mention=mention.markup, contact=message_text(outcome.contact.value)
    )
    said = text_activity(text + _same_person(t, outcome.chat), mentions=(mention,))
    return [to_conversation(turn.reference, said), _redrawn(ctx, outcome.chat)]


async def _in_thread(
    ctx: FlowContext, turn: Turn, change: Callable[[Unit, int], Awaitable[list[Outgoing]]]
) -> None:
    """A command in a chat's thread (else the writer is told): its check or change and
    what it sends, in one unit, once per inbound activity."""
    chat_id = await ctx.chat_for_thread(turn.thread) if turn.thread else None
    if chat_id is None:
        await mention_reply(ctx, turn, "agent.no_chat")
        return
    async with ctx.store.unit() as tx:
        if await tx.first_time(turn.keys):
            tx.enqueue(await change(tx, chat_id))


async def contact_command(ctx: FlowContext, turn: Turn) -> None:
    """``/contact <e-mail or phone>`` in a chat's thread."""
    contact = contact_of(turn.argument)
    if contact is None:
        await mention_reply(ctx, turn, "contacts.usage")
        return

    async def record(tx: Unit, chat_id: int) -> list[Outgoing]:
        outcome = await contacts.do_record_contact(tx, chat_id, turn.person, contact)
        return notify_recorded(ctx, turn, outcome)

    await _in_thread(ctx, turn, record)


def notify_unlinked(ctx: FlowContext, turn: Turn, outcome: Unlinked | Refused) -> list[Outgoing]:
    if isinstance(outcome, Refused):
        return [mention_answer(ctx, turn, refusal_key(outcome.reason))]
    if not outcome.others:
        return [mention_answer(ctx, turn, "contacts.nothing_linked")]
    said = mention_answer(ctx, turn, "contacts.unlinked", count=outcome.others)
    return [said, _redrawn(ctx, outcome.chat)]


async def unlink_command(ctx: FlowContext, turn: Turn) -> None:
    """``/unlink`` in a chat's thread: the customers matched to this chat's customer on
    other channels are someone else (kept, and recorded in the audit)."""

    async def unlink(tx: Unit, chat_id: int) -> list[Outgoing]:
        return notify_unlinked(ctx, turn, await contacts.do_unlink(tx, chat_id, turn.person))

    await _in_thread(ctx, turn, unlink)


def notify_shared(ctx: FlowContext, outcome: ContactShared | None) -> list[Outgoing]:
    """A channel verified the customer's phone (Zalo's shared info): their open chat's
    thread is told, with the same person's other channels, and its card redrawn."""
    if outcome is None or outcome.chat is None:
        return []
    chat, t = outcome.chat, ctx.team_texts
    text = t(
        "contacts.shared",
        channel=facts(chat.customer_channel).name,
        contact=message_text(outcome.contact.value),
    )
    return [to_thread(chat.id, text_activity(text + _same_person(t, chat))), _redrawn(ctx, chat)]


async def shared_contact(ctx: FlowContext, turn: Turn) -> None:
    """The customer shared their phone through the channel itself (Zalo's answer to the
    OA's request for information): kept as verified, on a channel whose facts say its
    shares are its own record; on any other channel the event is not believed."""
    contact = contact_of(turn.shared_phone)
    if contact is None or contact.kind != PHONE or not facts(turn.channel).verifies_contacts:
        return
    user_id = turn.customer
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        outcome = await contacts.do_share_contact(tx, turn.channel, user_id, contact)
        tx.enqueue(notify_shared(ctx, outcome))


def notify_ask(ctx: FlowContext, turn: Turn, chat: ChatView | Refused) -> list[Outgoing]:
    """The customer is asked for their phone in their language (on Zalo, Zalo's own form,
    whose answer is verified); the agent is told it went, or why it did not."""
    if isinstance(chat, Refused):
        return [mention_answer(ctx, turn, refusal_key(chat.reason))]
    channel = facts(chat.customer_channel)
    if not channel.verifies_contacts:
        return [mention_answer(ctx, turn, "contacts.ask_not_here", channel=channel.name)]
    t = ctx.customer_texts(chat.customer_locale)
    asked = text_activity(t("contacts.ask_customer"))
    asked["channelData"] = {REQUEST_CONTACT_MARK: t("contacts.ask_title")}
    told = mention_answer(ctx, turn, "contacts.asked", channel=channel.name)
    return [to_customer(chat, asked), told]


async def ask_phone_command(ctx: FlowContext, turn: Turn) -> None:
    """``/askphone`` in a chat's thread: the customer is asked to share their phone through
    the channel itself (Zalo's request for information); their answer is kept verified."""

    async def ask(tx: Unit, chat_id: int) -> list[Outgoing]:
        return notify_ask(ctx, turn, await contacts.check_in_chat(tx, chat_id, turn.person))

    await _in_thread(ctx, turn, ask)
