"""Team moves inside a chat, from its card or its thread: Invite, Transfer, Join, Leave.

Every move is authorized by the store from the database; the card only says which
chat (and which invitation) was pressed. Refusals say why: on the card's invoke
answer (seen by the presser only), or with an @mention in the thread.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from cards import actions
from cards.actions import INVITE, JOIN, LEAVE, TRANSFER, CardAction, Pressed
from cards.request import card_activity
from cards.team import offer_card, picker_card, status_card
from dialogs import tags
from dialogs.activity import mentioned_people, team_of
from dialogs.agents import (
    AgentTurn,
    InvokeAnswer,
    card_answer,
    chat_of_thread,
    error_answer,
    mention_notice,
    message_answer,
)
from dialogs.commands import Command
from dialogs.context import FlowContext
from dialogs.notices import mention_reply
from dialogs.replies import Mention, text_activity, to_customer, to_thread
from store.core import ChatView, Duplicate, NoSuchChat, Person
from store.models import ChatState, OfferKind, ParticipantRole
from store.outbox import Outgoing
from store.team import Moved, OfferCompose, Offered, OfferView, Refused

log = logging.getLogger(__name__)

_KINDS = {INVITE: OfferKind.INVITE, TRANSFER: OfferKind.TRANSFER}


class TeamTurn(AgentTurn):
    """One agent's team move on one chat."""

    def refused(self, chat: ChatView, reason: str) -> list[Outgoing]:
        return self.tell(chat, f"refusal.{reason}")

    def refusal_answer(self, reason: str) -> InvokeAnswer:
        return message_answer(self.t(f"refusal.{reason}", mention=self.person.name))

    def to_customer(self, chat: ChatView, key: str, **values: Any) -> Outgoing:
        text = self.ctx.customer_texts(chat.customer_locale)(key, **values)
        return to_customer(chat, text_activity(text))

    def answer(self, outcome: object, done: dict[str, Any] | None = None) -> InvokeAnswer | None:
        """The invoke answer: ``done`` (a card) on success, else the main card or the reason."""
        match outcome:
            case Refused(_, reason):
                return self.refusal_answer(reason)
            case NoSuchChat():
                return error_answer(404, "no such chat")
            case Moved(chat) | Offered(chat) if done is None:
                return card_answer(self.card(chat))
            case Moved() | Offered():
                return card_answer(done or {})
        return None

    async def offer_view(self, chat_id: int, offer_id: int) -> InvokeAnswer | None:
        """An invitation or transfer card as the presser sees it, from the database."""
        found = await self.ctx.store.offer_of(chat_id, offer_id)
        if found is None:
            return error_answer(404, "no such offer")
        chat, offer = found
        return card_answer(offer_card(chat, offer, self.t, viewer=self.person.teams_id))

    async def current(self, chat_id: int) -> InvokeAnswer | None:
        """The card as it is now, in the presser's view."""
        chat = await self.ctx.store.chat_view(chat_id)
        return card_answer(self.card(chat)) if chat else error_answer(404, "no such chat")

    # -- invite and transfer ---------------------------------------------------------------

    async def _roster(self) -> list[dict[str, Any]] | None:
        """The team's members as the Bot Connector's members API lists them (with their
        Teams role); None when it cannot be read now or says nothing."""
        team = team_of(self.activity)
        if not team:
            return None
        try:
            members = await self.ctx.directory.members(str(self.activity.get("serviceUrl")), team)
        except Exception as error:  # the connector being down must not block a move
            log.warning("team roster unavailable: %s", error)
            return None
        # A team always has members; an empty answer says nothing about who is in it.
        return [m for m in members if m.get("id")] or None

    async def _colleagues(self, chat: ChatView, verb: str) -> list[Person]:
        """The team's online members one may invite (not in the chat yet) or hand it to;
        every online agent the bridge knows when the roster cannot be read."""
        members = await self._roster()
        roster = [str(m["id"]) for m in members] if members is not None else None
        if verb == TRANSFER:
            excluded = {self.person.teams_id}
        else:
            excluded = {m.person.teams_id for m in chat.participants}
        online = await self.ctx.store.online_agents(roster)
        return [p for p in online if p.teams_id not in excluded]

    async def pick(self, chat_id: int, verb: str) -> InvokeAnswer | None:
        """Post a picker of online colleagues in the thread (Invite or Transfer pressed)."""
        chat = await self.ctx.store.chat_view(chat_id)
        if chat is None:
            return error_answer(404, "no such chat")
        colleagues = await self._colleagues(chat, verb)
        reason = "no_colleagues" if not colleagues else None
        if chat.state != ChatState.ACTIVE:
            reason = "offer_not_active"
        if reason is not None:
            if self.by_invoke:
                return self.refusal_answer(reason)
            await self.ctx.store.notify(self.keys, self.refused(chat, reason))
            return None
        summary = self.t(f"pick.{verb}.title", customer=chat.customer_name)
        picker = card_activity(picker_card(chat, verb, colleagues, self.t), summary)
        await self.ctx.store.notify(self.keys, [to_thread(chat.id, picker)])
        return message_answer(self.t(f"pick.{verb}.posted")) if self.by_invoke else None

    async def offer(self, chat_id: int, verb: str, recipient: Person | None) -> InvokeAnswer | None:
        """Invite a colleague, or offer them the chat; they are @mentioned with the buttons."""
        if recipient is None:
            return await self.pick(chat_id, verb)
        kind = _KINDS[verb]

        def on_offered(chat: ChatView, offer: OfferView) -> list[Outgoing]:
            mention = Mention(offer.recipient)
            text = self.t(
                f"offer.{kind.value}.notice", mention=mention.markup, sender=offer.sender.name
            )
            activity = card_activity(offer_card(chat, offer, self.t), text)
            activity.update(text=text, entities=[mention.entity()])
            return [to_thread(chat.id, activity)]

        outcome = await self.ctx.store.offer(
            chat_id,
            kind,
            self.person,
            recipient,
            timedelta(seconds=self.ctx.offer_timeout),
            self.keys,
            on_offered=on_offered,
            on_refused=self.refused,
        )
        if isinstance(outcome, Duplicate):
            return await self.current(chat_id)
        sent = self.t(f"offer.{kind.value}.sent", recipient=recipient.name)
        return self.answer(outcome, status_card(sent))

    async def answer_offer(
        self, chat_id: int, offer_id: int | None, kind: OfferKind | None, *, accept: bool
    ) -> InvokeAnswer | None:
        def on_answered(chat: ChatView, offer: OfferView) -> list[Outgoing]:
            sender = Mention(offer.sender)
            if not accept:
                key = f"offer.{offer.kind.value}.declined"
                text = self.t(key, mention=sender.markup, recipient=offer.recipient.name)
                return [to_thread(chat.id, text_activity(text, mentions=(sender,)))]
            if offer.kind == OfferKind.TRANSFER:
                text = self.t("offer.transfer.taken", mention=sender.markup, agent=self.person.name)
                return [
                    self.updated(chat),
                    to_thread(chat.id, text_activity(text, mentions=(sender,))),
                    self.to_customer(chat, "customer.agent_changed", agent=self.person.name),
                ]
            # The card lists the participants: no notice in the thread.
            return [
                self.updated(chat),
                self.to_customer(chat, "customer.agent_added", agent=self.person.name),
            ]

        outcome = await self.ctx.store.answer_offer(
            chat_id,
            offer_id,
            self.person,
            kind,
            self.keys,
            accept=accept,
            on_answered=on_answered,
            on_refused=self.refused,
        )
        if isinstance(outcome, Duplicate):
            return await self.current(chat_id)
        done = None
        if isinstance(outcome, Moved) and outcome.offer is not None:
            key = "accepted" if accept else "declined_by_you"
            done = status_card(self.t(f"offer.{outcome.offer.kind.value}.{key}"))
        return self.answer(outcome, done if offer_id is not None else None)

    # -- join and leave --------------------------------------------------------------------

    async def join(self, chat_id: int, offer_id: int | None) -> InvokeAnswer | None:
        """Join: the invitee answering their invitation, or a supervisor joining any chat."""
        if offer_id is not None or await self.ctx.store.has_pending_invite(chat_id, self.person):
            return await self.answer_offer(chat_id, offer_id, OfferKind.INVITE, accept=True)

        def on_joined(chat: ChatView) -> list[Outgoing]:
            # The card shows who joined; the thread stays for the conversation.
            return [self.updated(chat)]

        # The team's owners may join like supervisors; Teams says who they are.
        members = await self._roster() or []
        team_owner = any(
            m["id"] == self.person.teams_id and str(m.get("userRole", "")).lower() == "owner"
            for m in members
        )
        outcome = await self.ctx.store.join(
            chat_id,
            self.person,
            self.keys,
            team_owner=team_owner,
            on_joined=on_joined,
            on_refused=self.refused,
        )
        if isinstance(outcome, Duplicate):
            return await self.current(chat_id)
        return self.answer(outcome)

    async def leave(self, chat_id: int) -> InvokeAnswer | None:
        def on_left(chat: ChatView, role: ParticipantRole) -> list[Outgoing]:
            items = [self.updated(chat)]
            if role == ParticipantRole.INVITED:
                items.append(self.to_customer(chat, "customer.agent_left", agent=self.person.name))
            return items

        outcome = await self.ctx.store.leave(
            chat_id, self.person, self.keys, on_left=on_left, on_refused=self.refused
        )
        if isinstance(outcome, Duplicate):
            return await self.current(chat_id)
        return self.answer(outcome)


def expiry_notices(ctx: FlowContext) -> OfferCompose:
    """The composer for offers whose time ran out: the sender is told in the thread."""
    t = ctx.team_texts

    def on_expired(chat: ChatView, offer: OfferView) -> list[Outgoing]:
        notice = mention_notice(
            chat.id,
            offer.sender,
            t,
            f"offer.{offer.kind.value}.expired",
            recipient=offer.recipient.name,
        )
        return [notice]

    return on_expired


async def expire_offers(ctx: FlowContext) -> int:
    """Timer job: withdraw invitations and transfers nobody answered in time."""
    return await ctx.store.expire_offers(expiry_notices(ctx))


async def card_action(
    ctx: FlowContext, activity: dict[str, Any], pressed: Pressed, *, by_invoke: bool
) -> InvokeAnswer | None:
    """A button pressed on a chat's cards, as an invoke (Execute) or a message (Submit),
    admitted by the trust gate (a chat of the room it was pressed in)."""
    turn = TeamTurn(ctx, activity, by_invoke=by_invoke)
    answer = await _run(turn, pressed.action, pressed.chat_id)
    if not by_invoke and answer is not None and answer.status == 404:
        # A submit for a chat that does not exist: say so where it was pressed.
        await mention_reply(ctx, activity, "agent.stale_action")
    return answer if by_invoke else None


async def _run(turn: TeamTurn, action: CardAction, chat_id: int) -> InvokeAnswer | None:
    match action.verb:
        case actions.ACCEPT:
            return await turn.accept(chat_id)
        case actions.CLOSE:
            return await turn.close(chat_id)
        case actions.JOIN:
            return await turn.join(chat_id, action.offer_id)
        case actions.LEAVE:
            return await turn.leave(chat_id)
        case actions.TAKE:
            return await turn.answer_offer(
                chat_id, action.offer_id, OfferKind.TRANSFER, accept=True
            )
        case actions.DECLINE:
            return await turn.answer_offer(chat_id, action.offer_id, None, accept=False)
        case actions.REFRESH if action.offer_id is not None:
            # The invitation or transfer as this reader sees it (buttons: its recipient's).
            return await turn.offer_view(chat_id, action.offer_id)
        case actions.REFRESH:
            # Teams asks for this reader's view: their role's buttons, from the database.
            return await turn.current(chat_id)
        case actions.TAG:
            card = await tags.card_tag(turn.ctx, turn.activity, chat_id, by_invoke=turn.by_invoke)
            return card_answer(card) if card is not None else error_answer(404, "no such chat")
        case _:
            picked = await turn.ctx.store.agent_named(action.agent) if action.agent else None
            if action.agent and picked is None:
                return turn.refusal_answer("recipient_offline") if turn.by_invoke else None
            return await turn.offer(chat_id, action.verb, picked)


async def thread_command(ctx: FlowContext, activity: dict[str, Any], command: Command) -> None:
    """``/invite @name``, ``/transfer @name``, ``/join``, ``/leave`` in a chat's thread."""
    chat_id = await chat_of_thread(ctx, activity)
    if chat_id is None:
        return
    turn = TeamTurn(ctx, activity, by_invoke=False)
    match command.word:
        case actions.JOIN:
            await turn.join(chat_id, None)
        case actions.LEAVE:
            await turn.leave(chat_id)
        case verb:
            people = mentioned_people(activity)
            if not people and command.argument:
                await mention_reply(ctx, activity, "refusal.need_mention", word=verb)
                return
            await turn.offer(chat_id, verb, people[0] if people else None)


THREAD_WORDS = frozenset({JOIN, LEAVE, INVITE, TRANSFER})
