"""Cards of team moves: picking a colleague, an invitation or transfer to answer, a result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cards.actions import AGENT_INPUT, DECLINE, JOIN, REFRESH, TAKE, action_data
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


def picker_card(
    chat: ChatView, verb: str, colleagues: list[Person], t: TextLookup
) -> dict[str, Any]:
    """Choose an online colleague to invite, or to hand the chat over to (``verb``)."""
    choices = [{"title": person.name, "value": person.teams_id} for person in colleagues]
    return _card(
        [
            _text(t(f"pick.{verb}.title", customer=card_text(chat.customer_name)), weight="Bolder"),
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
        [button(t(f"pick.{verb}.button"), action_data(verb, chat.ref))],
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
        f"offer.{offer.kind.value}.title",
        sender=offer.sender.name,
        customer=card_text(chat.customer_name),
    )
    body = [
        _text(title, weight="Bolder"),
        _text(t("offer.only_for", recipient=offer.recipient.name), isSubtle=True),
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
