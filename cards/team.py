"""Cards of team moves: picking a colleague, an invitation or transfer to answer, a result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cards.actions import AGENT_INPUT, DECLINE, INVITE, JOIN, REFRESH, TAKE, TRANSFER, action_data
from cards.envelope import adaptive_card
from cards.markdown import card_text
from cards.request import TextLookup, button
from store.vocabulary import OfferKind, OfferState

if TYPE_CHECKING:  # records, for types only: cards import nothing that imports SQLAlchemy
    from store.offers import OfferView
    from store.views import ChatView, Person


def _card(
    body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return adaptive_card(body, actions)


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


# The texts of a pick (by its verb) and of an offer (by its kind), each key in full.
PICK_KEYS = {
    INVITE: {
        "title": "pick.invite.title",
        "button": "pick.invite.button",
        "posted": "pick.invite.posted",
    },
    TRANSFER: {
        "title": "pick.transfer.title",
        "button": "pick.transfer.button",
        "posted": "pick.transfer.posted",
    },
}
OFFER_KEYS = {
    OfferKind.INVITE: {
        "title": "offer.invite.title",
        "notice": "offer.invite.notice",
        "sent": "offer.invite.sent",
        "declined": "offer.invite.declined",
        "accepted": "offer.invite.accepted",
        "declined_by_you": "offer.invite.declined_by_you",
        "expired": "offer.invite.expired",
    },
    OfferKind.TRANSFER: {
        "title": "offer.transfer.title",
        "notice": "offer.transfer.notice",
        "sent": "offer.transfer.sent",
        "declined": "offer.transfer.declined",
        "accepted": "offer.transfer.accepted",
        "declined_by_you": "offer.transfer.declined_by_you",
        "expired": "offer.transfer.expired",
    },
}


def picker_card(
    chat: ChatView, verb: str, colleagues: list[Person], t: TextLookup
) -> dict[str, Any]:
    """Choose an online colleague to invite, or to hand the chat over to (``verb``)."""
    choices = [{"title": person.name, "value": person.teams_id} for person in colleagues]
    title = t(PICK_KEYS[verb]["title"], customer=card_text(chat.customer_name))
    return _card(
        [
            _text(title, weight="Bolder"),
            {
                "type": "Input.ChoiceSet",
                "id": AGENT_INPUT,
                "style": "compact",
                "isRequired": True,
                "errorMessage": t("pick.required"),
                "placeholder": t("pick.placeholder"),
                "choices": choices,
            },
        ],
        [button(t(PICK_KEYS[verb]["button"]), action_data(verb, chat.ref))],
    )


def offer_card(
    chat: ChatView, offer: OfferView, t: TextLookup, viewer: str | None = None
) -> dict[str, Any]:
    """What the invited colleague (or the transfer's recipient) answers; only they may,
    so only their own view (Teams refreshes it for them) has the buttons. Everyone else
    reads who was asked."""
    accept_verb, accept_key = (
        (TAKE, "offer.take") if offer.kind == OfferKind.TRANSFER else (JOIN, "offer.join")
    )
    title = t(
        OFFER_KEYS[offer.kind]["title"],
        sender=card_text(offer.sender.name),
        customer=card_text(chat.customer_name),
    )
    body = [
        _text(title, weight="Bolder"),
        _text(t("offer.only_for", recipient=card_text(offer.recipient.name)), isSubtle=True),
    ]
    pending = offer.state == OfferState.PENDING
    if viewer == offer.recipient.teams_id and pending:
        accept = action_data(accept_verb, chat.ref, offer.id)
        decline = action_data(DECLINE, chat.ref, offer.id)
        return _card(
            body, [button(t(accept_key), accept, "positive"), button(t("offer.decline"), decline)]
        )
    card = _card(body)
    if pending:
        data = action_data(REFRESH, chat.ref, offer.id)
        card["refresh"] = {
            "action": {"type": "Action.Execute", "verb": REFRESH, "data": data},
            "userIds": [offer.recipient.teams_id],
        }
    return card


def status_card(text: str) -> dict[str, Any]:
    """A card that replaced a picker or an offer once it was used: no buttons any more."""
    return _card([_text(text)])
