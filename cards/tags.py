"""The tags part of a request card: the chat's tags, and a Tag action while it is open."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cards.actions import TAG, action_data, card_input
from cards.envelope import TextLookup
from store.tagkeys import tag_name
from store.vocabulary import ChatState

if TYPE_CHECKING:  # records, for types only: cards import nothing that imports SQLAlchemy
    from store.core import ChatView

TAGS_INPUT = "tags"


def tag_section(chat: ChatView, t: TextLookup) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Body elements and actions for tagging an open chat with its department's tags.

    A multi-select of the department's tags (the chat's current ones selected) and a
    Tag button that sets exactly the selection; ``Action.Execute`` with an
    ``Action.Submit`` fallback, like the other buttons. Nothing when there are no tags.
    """
    if chat.state == ChatState.CLOSED or not chat.department_tags:
        return [], []
    choice_set = {
        "type": "Input.ChoiceSet",
        "id": TAGS_INPUT,
        "isMultiSelect": True,
        "style": "compact",
        "label": t("card.tags"),
        "placeholder": t("card.tag_placeholder"),
        "value": ",".join(chat.tags),
        "choices": [{"title": name, "value": name} for name in chat.department_tags],
    }
    data = action_data(TAG, chat.ref)
    title = t("card.tag")
    button = {
        "type": "Action.Execute",
        "title": title,
        "verb": TAG,
        "data": data,
        "fallback": {"type": "Action.Submit", "title": title, "data": data},
    }
    return [choice_set], [button]


def selected_tags(data: dict[str, Any] | None) -> tuple[str, ...]:
    """The tags chosen on the card when Tag was pressed (Teams sends ``"a,b"``), from the
    press's data (``cards.actions.card_data``)."""
    value = card_input(data, TAGS_INPUT)
    if isinstance(value, list):
        names = [str(v) for v in value]
    elif isinstance(value, str):
        names = value.split(",")
    else:
        names = []
    return tuple(dict.fromkeys(tag_name(n) for n in names if n.strip()))
