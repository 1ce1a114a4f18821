"""Card action verbs and the one parser that turns a button press into a typed action.

Teams delivers ``Action.Execute`` as an ``adaptiveCard/action`` invoke and
``Action.Submit`` as a message with ``value``; both carry the same data, so both
become the same :class:`CardAction`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ACCEPT = "accept"
CLOSE = "close"
JOIN = "join"
LEAVE = "leave"
INVITE = "invite"
TRANSFER = "transfer"
TAKE = "take"  # accept a transfer
DECLINE = "decline"  # decline an invitation or a transfer
TAG = "tag"
# Teams asks for a reader's own view of a card (Universal Actions' ``refresh``).
REFRESH = "refresh"
VERBS = frozenset({ACCEPT, CLOSE, JOIN, LEAVE, INVITE, TRANSFER, TAKE, DECLINE, TAG, REFRESH})
ID_LIMIT = 2**31  # the databases' integer keys
# A chat's public reference (``store.models.new_chat_ref``): URL-safe base64.
CHAT_REF = re.compile(r"[A-Za-z0-9_-]{16,32}")
AGENT_INPUT = "agent"  # the id of the choice input that names a colleague
AGENT_ID_LIMIT = 256


class BadAction(ValueError):
    """A button press whose data is not one of ours or is malformed."""


@dataclass(frozen=True)
class CardAction:
    """A press: the verb, the chat's public reference, and for team moves the offer it
    answers or the colleague picked on the card (validated here, authorized by the trust
    gate and the store)."""

    verb: str
    chat_ref: str
    offer_id: int | None = None
    agent: str | None = None


@dataclass(frozen=True)
class Pressed:
    """A press the trust gate admitted: the action, and the row id of the chat its
    reference names (a chat of the room it was pressed in)."""

    action: CardAction
    chat_id: int


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def action_data(verb: str, chat_ref: str, offer_id: int | None = None) -> dict[str, Any]:
    """What every button carries: the verb and the chat's public reference (never its row
    id). No card version: every change decides on the chat as it is now, in its
    ``WHERE``, so a press on an old card is answered with the card as it is now; a ``v``
    that cards sent before this change still carry is ignored."""
    data: dict[str, Any] = {"action": verb, "chat": chat_ref}
    if offer_id is not None:
        data["offer"] = offer_id
    return data


def card_data(activity: dict[str, Any]) -> dict[str, Any] | None:
    """The data a pressed button carried, from an invoke's ``action.data`` or a submit's
    ``value``; None when the activity is not a button press."""
    value = activity.get("value")
    if not isinstance(value, dict):
        return None
    if activity.get("type") == "invoke":
        action = value.get("action")
        if not isinstance(action, dict):
            return None
        data = action.get("data")
        data = dict(data) if isinstance(data, dict) else {}
        data.setdefault("action", action.get("verb"))
        return data
    return value


def card_input(data: dict[str, Any] | None, name: str) -> Any:
    """The value of a card's input sent with a button press (Teams merges inputs into the
    data); ``data`` is :func:`card_data`'s, as the Turn carries it."""
    return data.get(name) if data is not None else None


def is_card_action(data: dict[str, Any] | None) -> bool:
    """Whether a press's data (:func:`card_data`) names an action."""
    return data is not None and "action" in data


def parse_action(data: dict[str, Any] | None) -> CardAction:
    """The action of an invoke's or a submit's data (:func:`card_data`);
    :class:`BadAction` if it is not a valid one."""
    if data is None:
        raise BadAction("no card data")
    verb = data.get("action")
    if not isinstance(verb, str) or verb not in VERBS:
        raise BadAction(f"unknown action {verb!r}")
    chat_ref = data.get("chat")
    if not isinstance(chat_ref, str) or not CHAT_REF.fullmatch(chat_ref):
        raise BadAction("chat reference missing or malformed")
    offer_id = data.get("offer")
    if offer_id is not None and (not _whole(offer_id) or not 0 < offer_id < ID_LIMIT):
        raise BadAction("offer id not a positive integer")
    agent = data.get(AGENT_INPUT)
    if agent is not None and (not isinstance(agent, str) or len(agent) > AGENT_ID_LIMIT):
        raise BadAction("the picked colleague is not a Teams user id")
    return CardAction(verb=verb, chat_ref=chat_ref, offer_id=offer_id, agent=agent or None)
