"""The Adaptive Card envelope every card of the bridge is sent in.

Teams renders cards up to version 1.5; the version is said once here so that no card can
ask for a feature Teams would not draw.
"""

from __future__ import annotations

from typing import Any, Protocol

SCHEMA_VERSION = "1.5"


class TextLookup(Protocol):
    """The texts of one language, as cards read them (``dialogs.i18n.Texts`` is one)."""

    def __call__(self, key: str, **values: Any) -> str: ...


def adaptive_card(
    body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A card of ``body`` and (when there are any) ``actions``."""
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": SCHEMA_VERSION,
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card
