"""What the company's bot knew, as the agents see it: a part of the chat's card (its note,
the last topic, the customer's last phrases, their language) and the bot's part of the
chat as one folded post in the thread. Everything here is the customer's or the bot's
text: escaped for Teams' markdown (``cards.markdown``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cards.envelope import TextLookup, adaptive_card
from cards.markdown import card_text

# Lines of the bot's part shown; a longer conversation is cut from its start.
SHOWN_LINES = 60
_FOLDED = "first-bot-lines"


def _phrases(value: Any) -> str:
    """``va_LastPhrases``: a list, or one phrase (Copilot Studio sends either)."""
    if isinstance(value, list):
        return " · ".join(str(v) for v in value if str(v).strip())
    return str(value)


def bot_section(context: dict[str, Any] | None, t: TextLookup) -> list[dict[str, Any]]:
    """The card's lines about the bot's hand-over (none for a chat the bot never had)."""
    if not context:
        return []
    reason = {
        "handoff": t("card.bot_handed"),
        "asked": t("card.bot_asked"),
        "timeout": t("card.bot_timeout"),
    }.get(str(context.get("reason")), t("card.bot_handed"))
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": reason, "wrap": True, "weight": "Bolder", "spacing": "Medium"}
    ]
    note = context.get("va_AgentMessage")
    if note:
        body.append({"type": "TextBlock", "text": card_text(str(note)), "wrap": True})
    facts = [
        (t("card.bot_topic"), context.get("va_LastTopic")),
        (t("card.bot_phrases"), _phrases(context.get("va_LastPhrases") or "")),
        (t("card.bot_language"), context.get("va_Language")),
    ]
    shown = [{"title": title, "value": card_text(str(v))} for title, v in facts if v]
    if shown:
        body.append({"type": "FactSet", "facts": shown})
    return body


def bot_part_card(
    lines: Sequence[tuple[bool, str]], customer: str, t: TextLookup
) -> dict[str, Any]:
    """The bot's part of the chat as one card, folded: a button shows the lines."""
    kept = list(lines)[-SHOWN_LINES:]
    rows = [
        {
            "type": "TextBlock",
            "text": f"**{card_text(t('card.bot_name') if by_bot else customer)}**: "
            f"{card_text(text)}",
            "wrap": True,
            "spacing": "Small",
        }
        for by_bot, text in kept
    ]
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": t("card.bot_part", count=len(kept)), "wrap": True},
        {"type": "Container", "id": _FOLDED, "isVisible": False, "items": rows},
    ]
    toggle = {
        "type": "Action.ToggleVisibility",
        "title": t("card.bot_part_show"),
        "targetElements": [_FOLDED],
    }
    return adaptive_card(body, [toggle])
