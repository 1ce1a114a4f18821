"""The agents' side of a chat: card actions (Accept, Close), thread replies and commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cards.markdown import card_text, message_text
from cards.request import CARD_CONTENT_TYPE
from dialogs import ai, canned, notes
from dialogs.assignment import offer_waiting
from dialogs.attachments import as_attachments, names, stored_text
from dialogs.chatcards import chat_card, chat_card_activity
from dialogs.context import FlowContext
from dialogs.firstbot import bot_status
from dialogs.i18n import Texts
from dialogs.notes import note_text
from dialogs.notices import kept_as_note, mention_answer, mention_reply, relay_refused
from dialogs.ratings import with_rating_question
from dialogs.replies import (
    Mention,
    agent_line,
    card_update,
    text_activity,
    to_conversation,
    to_customer,
    to_thread,
)
from dialogs.turn import Turn
from store import chats
from store.chats import (
    Accepted,
    AlreadyClosed,
    AlreadyTaken,
    AtCapacity,
    Closed,
    OfferedElsewhere,
)
from store.core import ChatView, Person, TagRequired
from store.models import ChatState
from store.outbox import Outgoing
from store.vocabulary import Refusal, Refused


@dataclass(frozen=True)
class InvokeAnswer:
    """The synchronous answer to an ``adaptiveCard/action`` invoke."""

    status: int
    body: dict[str, Any]


def card_answer(card: dict[str, Any]) -> InvokeAnswer:
    return InvokeAnswer(200, {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card})


def error_answer(status: int, message: str) -> InvokeAnswer:
    code = {400: "BadRequest", 403: "Forbidden"}.get(status, "NotFound")
    body = {"code": code, "message": message}
    return InvokeAnswer(
        status, {"statusCode": status, "type": "application/vnd.microsoft.error", "value": body}
    )


def message_answer(text: str) -> InvokeAnswer:
    """An invoke answer that shows ``text`` to the presser and leaves the card as it is."""
    return InvokeAnswer(
        200,
        {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text},
    )


def unsupported_invoke(name: object) -> InvokeAnswer:
    """An invoke the bridge does not handle (a message extension, a task module)."""
    return InvokeAnswer(400, {"error": f"invoke {name!r} is not supported"})


def _known(chat: ChatView, t: Texts) -> str:
    return ", ".join(chat.department_tags) or t("tags.none_known")


def mention_notice(chat_id: int, person: Person, t: Texts, key: str, **values: Any) -> Outgoing:
    """A reply in the thread that @mentions ``person`` (Teams notifies them)."""
    mention = Mention(person)
    text = t(key, mention=mention.markup, **values)
    return to_thread(chat_id, text_activity(text, mentions=(mention,)))


def redrawn(ctx: FlowContext, chat: ChatView) -> Outgoing:
    """The shared card, redrawn for everyone; Teams asks for each viewer's own."""
    return card_update(chat.id, chat_card_activity(ctx, chat_card(ctx, chat), chat))


class AgentTurn:
    """One agent's turn on one chat, with the composers its outcomes need (who acts,
    which keys and whether an invoke waits for the answer all come from the Turn)."""

    def __init__(self, ctx: FlowContext, turn: Turn) -> None:
        self.ctx = ctx
        self.turn = turn
        self.person = turn.person
        self.keys = turn.keys
        self.by_invoke = turn.by_invoke
        self.t = ctx.team_texts

    def card(self, chat: ChatView, note: str | None = None) -> dict[str, Any]:
        """The card as the presser sees it: their role's buttons (the invoke's answer)."""
        return chat_card(self.ctx, chat, viewer=self.person.teams_id, note=note)

    def tell(self, chat: ChatView, key: str, **values: Any) -> list[Outgoing]:
        """Tell the acting agent in the thread; an invoke is answered on its card instead."""
        if self.by_invoke:
            return []
        return [mention_notice(chat.id, self.person, self.t, key, **values)]

    def updated(self, chat: ChatView) -> Outgoing:
        return redrawn(self.ctx, chat)

    def notify_accept(
        self, outcome: Accepted | AlreadyTaken | AtCapacity | OfferedElsewhere | Refused
    ) -> list[Outgoing]:
        match outcome:
            case Accepted(chat):
                customer_t = self.ctx.customer_texts(chat.customer_locale)
                owner = message_text(chat.owner_name or "")
                joined = customer_t("customer.agent_joined", agent=owner)
                helper = chat.owner_name or ""
                return [
                    self.updated(chat),
                    to_customer(chat, text_activity(joined), helper=helper),
                    *bot_status(chat, "accepted"),
                ]
            case AtCapacity(chat, capacity):
                return self.tell(chat, "agent.at_capacity", capacity=capacity)
            case OfferedElsewhere(chat, agent):
                return self.tell(chat, "agent.offered_elsewhere", agent=message_text(agent))
            case AlreadyTaken(chat) if (
                chat.owner_teams_id == self.person.teams_id or chat.thread_id is None
            ):
                # One's own repeat; or a chat with no card (no department yet): no thread.
                return []
            case AlreadyTaken(chat) if chat.state == ChatState.CLOSED:
                return self.tell(chat, "agent.already_closed")
            case AlreadyTaken(chat):
                owner = message_text(chat.owner_name or "")
                return self.tell(chat, "agent.already_taken", owner=owner)
        return []

    def answer_accept(
        self, outcome: Accepted | AlreadyTaken | AtCapacity | OfferedElsewhere | Refused
    ) -> InvokeAnswer:
        """The presser's own card after an Accept: what happened, from their side."""
        match outcome:
            case AtCapacity(chat, capacity):
                return card_answer(self.card(chat, self.t("card.at_capacity", capacity=capacity)))
            case OfferedElsewhere(chat, agent):
                note = self.t("card.offered_elsewhere", agent=card_text(agent))
                return card_answer(self.card(chat, note))
            case AlreadyTaken(chat) if (
                chat.owner_teams_id != self.person.teams_id and chat.state != ChatState.CLOSED
            ):
                note = self.t("card.taken_note", agent=card_text(chat.owner_name or ""))
                return card_answer(self.card(chat, note))
            case Accepted(chat) | AlreadyTaken(chat):
                return card_answer(self.card(chat))
        return error_answer(404, "no such chat")

    async def accept(self, chat_id: int) -> InvokeAnswer:
        async with self.ctx.store.unit() as tx:
            outcome = await chats.do_accept(tx, chat_id, self.person)
            tx.enqueue(self.notify_accept(outcome))
        return self.answer_accept(outcome)

    def notify_close(
        self, outcome: Closed | AlreadyClosed | TagRequired | Refused
    ) -> list[Outgoing]:
        match outcome:
            case Closed(chat):
                customer_t = self.ctx.customer_texts(chat.customer_locale)
                link = self.t(
                    "agent.transcript",
                    agent=message_text(self.person.name),
                    url=self.ctx.transcript_url(chat.ref),
                )
                ended = text_activity(customer_t("customer.chat_ended"))
                return [
                    self.updated(chat),
                    to_thread(chat.id, text_activity(link)),
                    # Nobody helps any more: the customer's header goes back to the team.
                    to_customer(chat, with_rating_question(self.ctx, chat, ended), helper=""),
                    *bot_status(chat, "completed"),
                ]
            case TagRequired(chat):
                known = message_text(_known(chat, self.t))
                return self.tell(chat, "agent.tag_required", known=known)
            case Refused(Refusal.CLOSE_NOT_ALLOWED, ChatView() as chat):
                return self.tell(chat, "agent.close_refused")
            case AlreadyClosed(chat) if chat.closed_by_teams_id != self.person.teams_id:
                # A repeat of one's own Close changes nothing and says nothing.
                return self.tell(chat, "agent.already_closed")
        return []

    def answer_close(self, outcome: Closed | AlreadyClosed | TagRequired | Refused) -> InvokeAnswer:
        t = self.t
        match outcome:
            case TagRequired(chat):
                note = t(
                    "agent.tag_required",
                    mention=card_text(self.person.name),
                    known=card_text(_known(chat, t)),
                )
                return card_answer(self.card(chat, note))
            case Refused(Refusal.CLOSE_NOT_ALLOWED, ChatView() as chat):
                note = t("agent.close_refused", mention=card_text(self.person.name))
                return card_answer(self.card(chat, note))
            case Closed(chat) | AlreadyClosed(chat):
                return card_answer(self.card(chat))
        return error_answer(404, "no such chat")

    async def close(self, chat_id: int) -> InvokeAnswer:
        async with self.ctx.store.unit() as tx:
            outcome = await chats.do_close(tx, chat_id, self.person)
            tx.enqueue(self.notify_close(outcome))
        if isinstance(outcome, Closed):
            await offer_waiting(self.ctx, outcome.chat.owner_teams_id)
            ai.after_close(self.ctx, outcome.chat, self.keys)
        return self.answer_close(outcome)


def _help(ctx: FlowContext, turn: Turn) -> str:
    """Every command, in three paragraphs: chats and team moves, routing, agents' tools."""
    keys = ["agent.help", "agent.help_routing", "agent.help_tools", "agent.help_contacts"]
    keys.append("agent.help_console")
    if ctx.assistant is not None:
        keys.append("agent.help_ai")  # AI help is configured (for some departments)
    return "\n\n".join(ctx.team_texts(key, bot=turn.bot) for key in keys)


async def help_reply(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot help``, or the bot @mentioned with nothing it knows: every command."""
    await ctx.store.notify(
        turn.keys, [to_conversation(turn.reference, text_activity(_help(ctx, turn)))]
    )


async def unknown_command(ctx: FlowContext, turn: Turn) -> None:
    """A ``/word`` the table does not know: a canned answer in a chat's thread, else help."""
    if turn.thread is not None:
        # In a chat's thread, "/", "/<prefix>" and "/<shortcut>" are canned answers.
        await canned.lookup(ctx, turn, turn.word)
        return
    help_text = _help(ctx, turn)
    word = message_text(turn.word)
    await mention_reply(ctx, turn, "agent.unknown_command", word=word, help=help_text)


async def chat_of_thread(ctx: FlowContext, turn: Turn) -> int | None:
    """The chat whose thread the activity was written in; answers the writer when none."""
    chat_id = await ctx.chat_for_thread(turn.thread) if turn.thread else None
    if chat_id is None:
        await mention_reply(ctx, turn, "agent.no_chat")
    return chat_id


async def close_command(ctx: FlowContext, turn: Turn) -> None:
    """``/close`` in a chat's thread: the card's Close, answered in the thread."""
    chat_id = await chat_of_thread(ctx, turn)
    if chat_id is not None:
        await AgentTurn(ctx, turn).close(chat_id)


async def thread_message(ctx: FlowContext, turn: Turn) -> None:
    """A reply in a chat's thread that is not a command: relay it to the customer."""
    thread = turn.thread
    if thread is None:
        return
    text = turn.text
    note = note_text(text)
    if note is not None:
        await notes.add_note(ctx, turn, note)
        return
    files = turn.files
    refusal = (
        [mention_answer(ctx, turn, "agent.files_refused", files=names(files.refused))]
        if files.refused
        else []
    )
    if not text and not files.passed:
        if refusal:
            await ctx.store.notify(turn.keys, refusal)
        return
    person = turn.person
    async with ctx.store.unit() as tx:
        outcome = await chats.do_agent_message(
            tx, thread, person, stored_text(text, files.passed), turn.keys, attachments=files.passed
        )
        match outcome:
            case chats.Relayed(chat_id, customer, mail_in):
                relayed = text_activity(text)
                if files.passed:
                    relayed["attachments"] = as_attachments(files.passed, images_only=False)
                tx.enqueue([*agent_line(customer, chat_id, person, relayed, mail_in), *refusal])
            case chats.KeptAsNote(chat, first) if first:
                tx.enqueue(kept_as_note(ctx.team_texts)(chat))
            case Refused(chat=ChatView() as chat):
                tx.enqueue(relay_refused(ctx.team_texts, person)(chat))
