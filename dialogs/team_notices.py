"""What a team move's outcome tells whom: pure functions from outcome to outgoing activities.

They run inside the move's unit, so the notices commit with the change; they read
nothing and send nothing themselves.
"""

from __future__ import annotations

from typing import Any

from cards.markdown import message_text
from cards.request import card_activity
from cards.team import OFFER_KEYS, offer_card
from dialogs.agents import AgentTurn, mention_notice
from dialogs.i18n import Texts
from dialogs.replies import Mention, refusal_key, text_activity, to_customer, to_thread
from store.models import OfferKind, OfferState, ParticipantRole
from store.moves import Joined, Left
from store.offers import Answered, Expired, Offered
from store.outbox import Outgoing
from store.views import ChatView
from store.vocabulary import Refusal, Refused

MoveOutcome = Offered | Answered | Joined | Left | Refused


def _customer_notice(
    turn: AgentTurn, chat: ChatView, key: str, *, helper: str | None = None, **values: Any
) -> Outgoing:
    """``helper``: who helps the customer after this notice, when it changes (see
    ``to_customer``)."""
    text = turn.ctx.customer_texts(chat.customer_locale)(key, **values)
    return to_customer(chat, text_activity(text), helper=helper)


def notify_refused(turn: AgentTurn, chat_id: int, refused: Refused) -> list[Outgoing]:
    """The mover is told why in the thread; an invoke is answered on its card instead."""
    if turn.by_invoke:
        return []
    return [mention_notice(chat_id, turn.person, turn.t, refusal_key(refused.reason))]


def notify_offered(turn: AgentTurn, offered: Offered) -> list[Outgoing]:
    """The recipient is @mentioned with the offer's card (its buttons are theirs only)."""
    chat, offer = offered.chat, offered.offer
    mention = Mention(offer.recipient)
    sender = message_text(offer.sender.name)
    text = turn.t(OFFER_KEYS[offer.kind]["notice"], mention=mention.markup, sender=sender)
    activity = card_activity(offer_card(chat, offer, turn.t), text)
    activity.update(text=text, entities=[mention.entity()])
    return [to_thread(chat.id, activity)]


def notify_answered(turn: AgentTurn, answered: Answered) -> list[Outgoing]:
    """A decline tells the sender; an acceptance redraws the card and tells the customer
    who helps them now (and the sender, when the chat was handed over)."""
    chat, offer = answered.chat, answered.offer
    sender = Mention(offer.sender)
    if offer.state != OfferState.ACCEPTED:
        key = OFFER_KEYS[offer.kind]["declined"]
        text = turn.t(key, mention=sender.markup, recipient=message_text(offer.recipient.name))
        return [to_thread(chat.id, text_activity(text, mentions=(sender,)))]
    agent = message_text(turn.person.name)
    if offer.kind == OfferKind.TRANSFER:
        text = turn.t("offer.transfer.taken", mention=sender.markup, agent=agent)
        return [
            turn.updated(chat),
            to_thread(chat.id, text_activity(text, mentions=(sender,))),
            _customer_notice(
                turn, chat, "customer.agent_changed", helper=turn.person.name, agent=agent
            ),
        ]
    # The card lists the participants: no notice in the thread.
    return [
        turn.updated(chat),
        _customer_notice(turn, chat, "customer.agent_added", agent=agent),
    ]


def notify_joined(turn: AgentTurn, joined: Joined) -> list[Outgoing]:
    # The card shows who joined; the thread stays for the conversation.
    return [turn.updated(joined.chat)]


def notify_left(turn: AgentTurn, left: Left) -> list[Outgoing]:
    """The card drops the leaver; the customer hears of it if they were told of the joining."""
    items = [turn.updated(left.chat)]
    if left.role == ParticipantRole.INVITED:
        agent = message_text(turn.person.name)
        # The header may name the leaver (the last to write): it names the owner again.
        owner = left.chat.owner_name or ""
        notice = _customer_notice(
            turn, left.chat, "customer.agent_left", helper=owner, agent=agent
        )
        items.append(notice)
    return items


def notify_move(turn: AgentTurn, chat_id: int, outcome: MoveOutcome) -> list[Outgoing]:
    match outcome:
        case Refused(Refusal.UNKNOWN_CHAT):
            return []
        case Refused():
            return notify_refused(turn, chat_id, outcome)
        case Offered():
            return notify_offered(turn, outcome)
        case Answered():
            return notify_answered(turn, outcome)
        case Joined():
            return notify_joined(turn, outcome)
        case Left():
            return notify_left(turn, outcome)
    return []


def notify_expired(t: Texts, expired: Expired) -> list[Outgoing]:
    """An offer whose time ran out: the sender is told in the thread."""
    offer = expired.offer
    key = OFFER_KEYS[offer.kind]["expired"]
    recipient = message_text(offer.recipient.name)
    return [mention_notice(expired.chat.id, offer.sender, t, key, recipient=recipient)]
