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
VERBS = frozenset({ACCEPT, CLOSE})


class BadAction(ValueError):
    """A button press whose data is not one of ours or is malformed."""


@dataclass(frozen=True)
class CardAction:
    verb: str
    chat_id: int
    version: int


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


def is_card_action(activity: dict[str, Any]) -> bool:
    data = _data_of(activity)
    return data is not None and "action" in data


def parse_action(activity: dict[str, Any]) -> CardAction:
    """The action of an invoke or a submit; :class:`BadAction` if it is not a valid one."""
    data = _data_of(activity)
    if data is None:
        raise BadAction("no card data")
    verb = data.get("action")
    if verb not in VERBS:
        raise BadAction(f"unknown action {verb!r}")
    chat_id, version = data.get("chat"), data.get("v", 0)
    if isinstance(chat_id, bool) or not isinstance(chat_id, int) or chat_id <= 0:
        raise BadAction("chat id missing or not a positive integer")
    if isinstance(version, bool) or not isinstance(version, int):
        raise BadAction("card version not an integer")
    return CardAction(verb=verb, chat_id=chat_id, version=version)
