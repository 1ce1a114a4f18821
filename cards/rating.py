"""The rating question after a chat closes, asked once: one card whose five choices sit in
one row (a face and its number each, the scale's two ends named under them), which fits
a 360 px phone; then, once a score is given, the comment offered in a card of its own,
and the question redrawn locked where the channel can replace a sent card.

No suggested actions: they repeated the card's five choices as a second row of buttons
(clipped on a phone), and the text line above them repeated its question. A channel
that draws no cards shows the card's ``fallbackText``; a typed digit is still an answer.
"""

from __future__ import annotations

from typing import Any

from cards.envelope import adaptive_card
from cards.request import TextLookup, attachment

RATE = "rate"
COMMENT = "rate_comment"
SEND_TRANSCRIPT = "send_transcript"
SCORES = (1, 2, 3, 4, 5)
# Each score's word, by score.
CHOICE_KEYS = {
    1: "csat.choice_1",
    2: "csat.choice_2",
    3: "csat.choice_3",
    4: "csat.choice_4",
    5: "csat.choice_5",
}
FACES = {1: "😞", 2: "😕", 3: "😐", 4: "😊", 5: "😄"}
COMMENT_LIMIT = 1000


def _choice(chat_ref: str, score: int, t: TextLookup) -> dict[str, Any]:
    """One choice: a column that is a button (its title is what a screen reader says)."""
    return {
        "type": "Column",
        "width": "stretch",
        "style": "emphasis",
        "selectAction": {
            "type": "Action.Submit",
            "title": t(CHOICE_KEYS[score]),
            "data": {"action": RATE, "chat": chat_ref, "score": score},
        },
        "items": [
            {
                "type": "TextBlock",
                "text": FACES[score],
                "size": "Large",
                "horizontalAlignment": "Center",
            },
            {
                "type": "TextBlock",
                "text": str(score),
                "weight": "Bolder",
                "horizontalAlignment": "Center",
                "spacing": "None",
            },
        ],
    }


def _ends(t: TextLookup) -> dict[str, Any]:
    """The scale's two ends named under the row ("Rất tệ" ... "Rất tốt")."""

    def end(key: str, align: str) -> dict[str, Any]:
        said = {"type": "TextBlock", "text": t(key), "size": "Small", "isSubtle": True}
        return {
            "type": "Column",
            "width": "stretch",
            "items": [{**said, "wrap": True, "horizontalAlignment": align}],
        }

    return {
        "type": "ColumnSet",
        "spacing": "Small",
        "columns": [end("csat.low", "Left"), end("csat.high", "Right")],
    }


def transcript_button(chat_ref: str, t: TextLookup) -> dict[str, Any]:
    """The customer asks for the chat's transcript by mail (offered at the close)."""
    return {
        "type": "Action.Submit",
        "title": t("mail.send_transcript"),
        "data": {"action": SEND_TRANSCRIPT, "chat": chat_ref},
    }


def rating_card(chat_ref: str, t: TextLookup, *, transcript: bool = False) -> dict[str, Any]:
    """The question with its five choices in one row (and, with ``transcript``, the
    button that mails the chat's transcript)."""
    card = adaptive_card(
        [
            {"type": "TextBlock", "text": t("csat.question"), "wrap": True, "weight": "Bolder"},
            {
                "type": "ColumnSet",
                "spacing": "Medium",
                "columns": [_choice(chat_ref, score, t) for score in SCORES],
            },
            _ends(t),
        ],
        [transcript_button(chat_ref, t)] if transcript else None,
    )
    card["fallbackText"] = t("csat.fallback")
    return card


def rated_card(score: int, t: TextLookup) -> dict[str, Any]:
    """The question locked once answered: the chosen score and thanks, nothing to press."""
    card = adaptive_card(
        [
            {"type": "TextBlock", "text": t("csat.question"), "wrap": True, "weight": "Bolder"},
            {
                "type": "TextBlock",
                "text": t("csat.rated_locked", face=FACES[score], score=score),
                "wrap": True,
            },
        ]
    )
    card["fallbackText"] = t("csat.thanks")
    return card


def comment_card(chat_ref: str, t: TextLookup) -> dict[str, Any]:
    """After the score (thanked in the message's text): a place for a comment, optional,
    sent once."""
    card = adaptive_card(
        [
            {
                "type": "Input.Text",
                "id": "comment",
                "label": t("csat.comment_label"),
                "isMultiline": True,
                "maxLength": COMMENT_LIMIT,
            },
        ],
        [
            {
                "type": "Action.Submit",
                "title": t("csat.send_comment"),
                "data": {"action": COMMENT, "chat": chat_ref},
            }
        ],
    )
    card["fallbackText"] = t("csat.thanks")
    return card


def rating_activity(chat_ref: str, t: TextLookup, *, transcript: bool = False) -> dict[str, Any]:
    """The question as a card (``Action.Submit``: Web Chat and Teams personal chats send
    it back as a message with ``value``)."""
    card = rating_card(chat_ref, t, transcript=transcript)
    return {"type": "message", "attachments": [attachment(card)]}


def card_message(card: dict[str, Any], text: str | None = None) -> dict[str, Any]:
    activity: dict[str, Any] = {"type": "message", "attachments": [attachment(card)]}
    if text:
        activity["text"] = text
    return activity
