"""Card action verbs and the one parser that turns a button press into a typed action.

Teams delivers ``Action.Execute`` as an ``adaptiveCard/action`` invoke and
``Action.Submit`` as a message with ``value``; both carry the same data, so both
become the same :class:`CardAction`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ACCEPT = "accept"
CLOSE = "close"
TAG = "tag"
VERBS = frozenset({ACCEPT, CLOSE, TAG})
ID_LIMIT = 2**31  # the databases' integer keys


class BadAction(ValueError):
    """A button press whose data is not one of ours or is malformed."""


@dataclass(frozen=True)
class CardAction:
    verb: str
    chat_id: int
    version: int


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def action_data(verb: str, chat_id: int, version: int) -> dict[str, Any]:
    """What every button carries: the verb, the chat and the card version it was pressed on."""
    return {"action": verb, "chat": chat_id, "v": version}


def _data_of(activity: dict[str, Any]) -> dict[str, Any] | None:
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


def card_input(activity: dict[str, Any], name: str) -> Any:
    """The value of a card's input sent with a button press (Teams merges inputs into the data)."""
    data = _data_of(activity)
    return data.get(name) if data is not None else None


def is_card_action(activity: dict[str, Any]) -> bool:
    data = _data_of(activity)
    return data is not None and "action" in data


def parse_action(activity: dict[str, Any]) -> CardAction:
    """The action of an invoke or a submit; :class:`BadAction` if it is not a valid one."""
    data = _data_of(activity)
    if data is None:
        raise BadAction("no card data")
    verb = data.get("action")
    if not isinstance(verb, str) or verb not in VERBS:
        raise BadAction(f"unknown action {verb!r}")
    chat_id, version = data.get("chat"), data.get("v", 0)
    if not _whole(chat_id) or not 0 < chat_id < ID_LIMIT:
        raise BadAction("chat id missing or not a positive integer")
    if not _whole(version) or not 0 <= version < ID_LIMIT:
        raise BadAction("card version not an integer")
    return CardAction(verb=verb, chat_id=chat_id, version=version)
