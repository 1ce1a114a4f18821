"""The rating question after a chat closes: a card with five buttons, and the same five
choices as suggested actions for channels that show no cards."""

from __future__ import annotations

from typing import Any

from cards.envelope import adaptive_card
from cards.request import TextLookup, attachment

RATE = "rate"
SCORES = (1, 2, 3, 4, 5)


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
                "title": t(f"csat.choice_{score}"),
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
                {"type": "imBack", "title": t(f"csat.choice_{s}"), "value": t(f"csat.choice_{s}")}
                for s in SCORES
            ]
        },
    }
