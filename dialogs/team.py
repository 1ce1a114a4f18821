"""Team moves inside a chat, from its card or its thread: Invite, Transfer, Join, Leave.

Every move is authorized by the store from the database; the card only says which
chat (and which invitation) was pressed. Refusals say why: on the card's invoke
answer (seen by the presser only), or with an @mention in the thread.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from cards import actions
from cards.actions import CardAction
from cards.markdown import card_text
from cards.request import card_activity
from cards.team import OFFER_KEYS, PICK_KEYS, offer_card, picker_card, status_card
from dialogs import ai, tags
from dialogs.agents import (
    AgentTurn,
    InvokeAnswer,
    card_answer,
    chat_of_thread,
    error_answer,
    message_answer,
)
from dialogs.assignment import offer_waiting
from dialogs.context import FlowContext
from dialogs.notices import mention_reply
from dialogs.replies import refusal_key, to_thread
from dialogs.team_notices import MoveOutcome, notify_expired, notify_move, notify_refused
from dialogs.turn import Turn
from store import moves, offers
from store.models import ChatState, OfferKind, OfferState
from store.moves import Joined, Left
from store.offers import Answered, Offered
from store.unit import Unit
from store.views import ChatView, Person
from store.vocabulary import Refusal, Refused

log = logging.getLogger(__name__)

_KINDS = {actions.INVITE: OfferKind.INVITE, actions.TRANSFER: OfferKind.TRANSFER}


class TeamTurn(AgentTurn):
    """One agent's team move on one chat."""

    def refusal_answer(self, reason: str) -> InvokeAnswer:
        return message_answer(self.t(refusal_key(reason), mention=self.person.name))

    def answer(self, outcome: MoveOutcome, done: dict[str, Any] | None = None) -> InvokeAnswer:
        """The invoke answer: ``done`` (a card) on success, else the main card or the reason."""
        match outcome:
            case Refused(Refusal.UNKNOWN_CHAT):
                return error_answer(404, "no such chat")
            case Refused(reason):
                return self.refusal_answer(reason)
            case Offered(chat) | Answered(chat) | Joined(chat) | Left(chat) if done is None:
                return card_answer(self.card(chat))
        return card_answer(done or {})

    async def move(
        self, chat_id: int, do: Callable[[Unit], Awaitable[MoveOutcome]]
    ) -> MoveOutcome | None:
        """Run a move's ``do_*`` once per inbound activity, its notices queued in the same
        unit; None when the activity was handled before."""
        async with self.ctx.store.unit() as tx:
            if not await tx.first_time(self.keys):
                return None
            outcome = await do(tx)
            tx.enqueue(notify_move(self, chat_id, outcome))
            return outcome

    async def offer_view(self, chat_id: int, offer_id: int) -> InvokeAnswer | None:
        """An invitation or transfer card as the presser sees it, from the database."""
        async with self.ctx.store.reading() as tx:
            found = await offers.offer_of(tx, chat_id, offer_id)
        if found is None:
            return error_answer(404, "no such offer")
        chat, offer = found
        return card_answer(offer_card(chat, offer, self.t, viewer=self.person.teams_id))

    async def current(self, chat_id: int) -> InvokeAnswer | None:
        """The card as it is now, in the presser's view."""
        async with self.ctx.store.reading() as tx:
            chat = await moves.chat_view_of(tx, chat_id)
        return card_answer(self.card(chat)) if chat else error_answer(404, "no such chat")

    # -- invite and transfer ---------------------------------------------------------------

    async def _roster(self) -> list[dict[str, Any]] | None:
        """The team's members as the Bot Connector's members API lists them (with their
        Teams role); None when it cannot be read now or says nothing."""
        team = self.turn.team
        if not team:
            return None
        try:
            members = await self.ctx.directory.members(str(self.turn.service_url), team)
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
        if verb == actions.TRANSFER:
            excluded = {self.person.teams_id}
        else:
            excluded = {m.person.teams_id for m in chat.participants}
        async with self.ctx.store.reading() as tx:
            online = await moves.online_agents(tx, roster)
        return [p for p in online if p.teams_id not in excluded]

    async def pick(self, chat_id: int, verb: str) -> InvokeAnswer | None:
        """Post a picker of online colleagues in the thread (Invite or Transfer pressed)."""
        async with self.ctx.store.reading() as tx:
            chat = await moves.chat_view_of(tx, chat_id)
        if chat is None:
            return error_answer(404, "no such chat")
        colleagues = await self._colleagues(chat, verb)
        reason = Refusal.NO_COLLEAGUES if not colleagues else None
        if chat.state != ChatState.ACTIVE:
            reason = Refusal.OFFER_NOT_ACTIVE
        if reason is not None:
            if self.by_invoke:
                return self.refusal_answer(reason)
            await self.ctx.store.notify(self.keys, notify_refused(self, chat.id, Refused(reason)))
            return None
        summary = self.t(PICK_KEYS[verb]["title"], customer=chat.customer_name)
        picker = card_activity(picker_card(chat, verb, colleagues, self.t), summary)
        await self.ctx.store.notify(self.keys, [to_thread(chat.id, picker)])
        return message_answer(self.t(PICK_KEYS[verb]["posted"])) if self.by_invoke else None

    async def offer(self, chat_id: int, verb: str, recipient: Person | None) -> InvokeAnswer | None:
        """Invite a colleague, or offer them the chat; they are @mentioned with the buttons."""
        if recipient is None:
            return await self.pick(chat_id, verb)
        kind = _KINDS[verb]
        expires_in = timedelta(seconds=self.ctx.offer_timeout)
        outcome = await self.move(
            chat_id,
            lambda tx: offers.do_offer(tx, chat_id, kind, self.person, recipient, expires_in),
        )
        if outcome is None:
            return await self.current(chat_id)
        sent = self.t(OFFER_KEYS[kind]["sent"], recipient=card_text(recipient.name))
        return self.answer(outcome, status_card(sent))

    async def answer_offer(
        self, chat_id: int, offer_id: int | None, kind: OfferKind | None, *, accept: bool
    ) -> InvokeAnswer | None:
        outcome = await self.move(
            chat_id,
            lambda tx: offers.do_answer_offer(
                tx, chat_id, offer_id, self.person, kind, accept=accept
            ),
        )
        if outcome is None:
            return await self.current(chat_id)
        transferred = isinstance(outcome, Answered) and outcome.offer.kind == OfferKind.TRANSFER
        if transferred and outcome.offer.state == OfferState.ACCEPTED:
            # The previous owner has a seat free: their departments' queues move.
            await offer_waiting(self.ctx, outcome.offer.sender.teams_id)
        done = None
        if (
            isinstance(outcome, Answered)
            and outcome.offer.kind == OfferKind.TRANSFER
            and outcome.offer.state == OfferState.ACCEPTED
        ):
            ai.after_transfer(self.ctx, outcome.chat, self.person, self.keys)
        if isinstance(outcome, Answered) and offer_id is not None:
            key = "accepted" if accept else "declined_by_you"
            done = status_card(self.t(OFFER_KEYS[outcome.offer.kind][key]))
        return self.answer(outcome, done)

    # -- join and leave --------------------------------------------------------------------

    async def join(self, chat_id: int, offer_id: int | None) -> InvokeAnswer | None:
        """Join: the invitee answering their invitation, or a supervisor joining any chat."""
        invited = offer_id is not None
        if not invited:
            async with self.ctx.store.reading() as tx:
                invited = await offers.pending_invite(tx, chat_id, self.person)
        if invited:
            return await self.answer_offer(chat_id, offer_id, OfferKind.INVITE, accept=True)
        # The team's owners may join like supervisors; Teams says who they are.
        members = await self._roster() or []
        team_owner = any(
            m["id"] == self.person.teams_id and str(m.get("userRole", "")).lower() == "owner"
            for m in members
        )
        outcome = await self.move(
            chat_id, lambda tx: moves.do_join(tx, chat_id, self.person, team_owner=team_owner)
        )
        return await self.current(chat_id) if outcome is None else self.answer(outcome)

    async def leave(self, chat_id: int) -> InvokeAnswer | None:
        outcome = await self.move(chat_id, lambda tx: moves.do_leave(tx, chat_id, self.person))
        if isinstance(outcome, Left):
            await offer_waiting(self.ctx, self.person.teams_id)
        return await self.current(chat_id) if outcome is None else self.answer(outcome)


async def expire_offers(ctx: FlowContext) -> int:
    """Timer job: withdraw invitations and transfers nobody answered in time; each is
    claimed by one replica only, in a unit of its own."""
    async with ctx.store.reading() as tx:
        due = await offers.due_offers(tx)
    expired = 0
    for offer_id in due:
        async with ctx.store.unit() as tx:
            outcome = await offers.do_expire_offer(tx, offer_id)
            if outcome is not None:
                tx.enqueue(notify_expired(ctx.team_texts, outcome))
                expired += 1
    return expired


async def card_action(ctx: FlowContext, turn: Turn) -> InvokeAnswer | None:
    """A button pressed on a chat's cards, as an invoke (Execute) or a message (Submit),
    admitted by the trust gate (``turn.pressed``: a chat of the room it was pressed in)."""
    if turn.pressed is None:
        return error_answer(400, "no card action")
    answer = await _run(TeamTurn(ctx, turn), turn.pressed.action, turn.pressed.chat_id)
    if not turn.by_invoke and answer is not None and answer.status == 404:
        # A submit for a chat that does not exist: say so where it was pressed.
        await mention_reply(ctx, turn, "agent.stale_action")
    return answer if turn.by_invoke else None


async def _run(agent: TeamTurn, action: CardAction, chat_id: int) -> InvokeAnswer | None:
    match action.verb:
        case actions.ACCEPT:
            return await agent.accept(chat_id)
        case actions.CLOSE:
            return await agent.close(chat_id)
        case actions.JOIN:
            return await agent.join(chat_id, action.offer_id)
        case actions.LEAVE:
            return await agent.leave(chat_id)
        case actions.TAKE:
            return await agent.answer_offer(
                chat_id, action.offer_id, OfferKind.TRANSFER, accept=True
            )
        case actions.DECLINE:
            return await agent.answer_offer(chat_id, action.offer_id, None, accept=False)
        case actions.REFRESH if action.offer_id is not None:
            # The invitation or transfer as this reader sees it (buttons: its recipient's).
            return await agent.offer_view(chat_id, action.offer_id)
        case actions.REFRESH:
            # Teams asks for this reader's view: their role's buttons, from the database.
            return await agent.current(chat_id)
        case actions.TAG:
            card = await tags.card_tag(agent.ctx, agent.turn, chat_id)
            return card_answer(card) if card is not None else error_answer(404, "no such chat")
        case _:
            picked = None
            if action.agent:
                async with agent.ctx.store.reading() as tx:
                    picked = await moves.agent_named(tx, action.agent)
            if action.agent and picked is None:
                return agent.refusal_answer("recipient_offline") if agent.by_invoke else None
            return await agent.offer(chat_id, action.verb, picked)


async def thread_command(ctx: FlowContext, turn: Turn) -> None:
    """``/invite @name``, ``/transfer @name``, ``/join``, ``/leave`` in a chat's thread."""
    chat_id = await chat_of_thread(ctx, turn)
    if chat_id is None:
        return
    agent = TeamTurn(ctx, turn)
    match turn.word:
        case actions.JOIN:
            await agent.join(chat_id, None)
        case actions.LEAVE:
            await agent.leave(chat_id)
        case verb:
            people = turn.mentions
            if not people and turn.argument:
                await mention_reply(ctx, turn, "refusal.need_mention", word=verb)
                return
            await agent.offer(chat_id, verb, people[0] if people else None)
