"""The request card as each flow sends it: one place that knows the clock, the links
and the notification summary, so that no redraw loses a section (a returning
customer's history, the waiting time) and every update notifies with the question."""

from __future__ import annotations

from typing import Any

from cards.request import card_activity, request_card, summary
from dialogs.context import FlowContext
from store.core import ChatView


def chat_card(
    ctx: FlowContext, chat: ChatView, *, viewer: str | None = None, note: str | None = None
) -> dict[str, Any]:
    """The card of ``chat`` as ``viewer`` sees it (None: the card everyone shares)."""
    return request_card(
        chat,
        ctx.team_texts,
        now=ctx.store.clock(),
        viewer=viewer,
        note=note,
        links=ctx.transcript_url,
    )


def chat_card_activity(ctx: FlowContext, card: dict[str, Any], chat: ChatView) -> dict[str, Any]:
    """The message carrying a chat's card; phones show "Lan: Chào shop, …" for it."""
    return card_activity(card, summary(chat))
