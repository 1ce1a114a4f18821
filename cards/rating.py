"""The rating question after a chat closes: a card with five buttons, and the same five
choices as suggested actions for channels that show no cards."""

from __future__ import annotations

from typing import Any

from cards.envelope import adaptive_card
from cards.request import TextLookup, attachment

RATE = "rate"
SCORES = (1, 2, 3, 4, 5)
# Each score's word, by score.
CHOICE_KEYS = {
    1: "csat.choice_1",
    2: "csat.choice_2",
    3: "csat.choice_3",
    4: "csat.choice_4",
    5: "csat.choice_5",
}


def rating_activity(chat_ref: str, t: TextLookup) -> dict[str, Any]:
    """The question as one message: the card (``Action.Submit``: Web Chat and Teams
    personal chats send it back as a message with ``value``) and suggested actions."""
    card = adaptive_card(
        [
            {"type": "TextBlock", "text": t("csat.question"), "wrap": True},
            {
                "type": "Input.Text",
                "id": "comment",
                "label": t("csat.comment_label"),
                "isMultiline": True,
                "maxLength": 1000,
            },
        ],
        [
            {
                "type": "Action.Submit",
                "title": t(CHOICE_KEYS[score]),
                "data": {"action": RATE, "chat": chat_ref, "score": score},
            }
            for score in SCORES
        ],
    )
    return {
        "type": "message",
        "text": t("csat.question"),
        "attachments": [attachment(card)],
        "suggestedActions": {
            "actions": [
                {"type": "imBack", "title": t(CHOICE_KEYS[s]), "value": t(CHOICE_KEYS[s])}
                for s in SCORES
            ]
        },
    }
