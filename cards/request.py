"""The request card of a chat: posted when it opens, updated on every change."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from cards.actions import ACCEPT, CLOSE, INVITE, JOIN, LEAVE, TRANSFER, action_data
from cards.markdown import card_text
from cards.tags import tag_section, tags_fact
from store.core import ChatView
from store.models import ChatState

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA_VERSION = "1.5"
_PREVIEW_CHARS = 300


class TextLookup(Protocol):
    def __call__(self, key: str, **values: Any) -> str: ...


def attachment(card: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": card}


def card_activity(card: dict[str, Any], summary: str) -> dict[str, Any]:
    """A message activity carrying one card (``summary`` is what notifications show)."""
    return {"type": "message", "summary": summary, "attachments": [attachment(card)]}


def _when(at: datetime) -> str:
    """Adaptive Cards' date/time functions render the time in the reader's zone."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}}"


def format_duration(span: timedelta) -> str:
    seconds = max(0, int(span.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"


def button(title: str, data: dict[str, Any], style: str | None = None) -> dict[str, Any]:
    """An ``Action.Execute`` that falls back to ``Action.Submit`` with the same data.

    Teams sends Execute as an invoke answered with the new card; Submit (older
    clients) arrives as a message with ``value``. Both carry ``data``.
    """
    execute: dict[str, Any] = {
        "type": "Action.Execute",
        "title": title,
        "verb": data["action"],
        "data": data,
        "fallback": {"type": "Action.Submit", "title": title, "data": data},
    }
    if style:
        execute["style"] = style
    return execute


def _button(title: str, verb: str, chat: ChatView, style: str | None = None) -> dict[str, Any]:
    return button(title, action_data(verb, chat.ref, chat.version), style)


def participant_list(chat: ChatView, t: TextLookup) -> str:
    """ "Mai (owner), Hùng (invited)": who takes part now, and as what."""
    return ", ".join(
        t("card.participant", name=m.person.name, role=t(f"role.{m.role.value}"))
        for m in chat.participants
    )


def _preview(text: str) -> str:
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1] + "…"


def request_card(
    chat: ChatView, t: TextLookup, *, note: str | None = None, transcript_url: str | None = None
) -> dict[str, Any]:
    """The card for a chat's current state; its buttons are the moves valid in that state."""
    facts = [
        {"title": t("card.customer"), "value": card_text(chat.customer_name)},
        *(
            [{"title": t("card.contact"), "value": card_text(chat.customer_contact)}]
            if chat.customer_contact
            else []
        ),
        {"title": t("card.channel"), "value": chat.customer_channel},
        {"title": t("card.department"), "value": chat.department},
        {"title": t("card.state"), "value": t(f"card.state.{chat.state.value}")},
    ]
    body: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    if chat.state == ChatState.CLOSED:
        body.append(
            {
                "type": "TextBlock",
                "text": t("card.summary"),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            }
        )
        closed_at = chat.closed_at or chat.created_at
        facts += [
            {"title": t("card.owner"), "value": chat.owner_name or "-"},
            {"title": t("card.duration"), "value": format_duration(closed_at - chat.created_at)},
            {"title": t("card.messages"), "value": str(chat.message_count)},
            {"title": t("card.closed_at"), "value": _when(closed_at)},
        ]
        if transcript_url:
            actions.append(
                {"type": "Action.OpenUrl", "title": t("card.transcript"), "url": transcript_url}
            )
    else:
        body.append(
            {
                "type": "TextBlock",
                "text": t("card.new_chat"),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            }
        )
        facts.append({"title": t("card.waiting_since"), "value": _when(chat.created_at)})
        if chat.state == ChatState.ACTIVE:
            facts.append({"title": t("card.owner"), "value": chat.owner_name or "-"})
            body.append(
                {
                    "type": "TextBlock",
                    "text": t("card.accepted_by", agent=chat.owner_name or "-"),
                    "color": "Good",
                    "wrap": True,
                }
            )
            actions += [
                _button(t("card.invite"), INVITE, chat),
                _button(t("card.transfer"), TRANSFER, chat),
                _button(t("card.join"), JOIN, chat),
                _button(t("card.leave"), LEAVE, chat),
                _button(t("card.close"), CLOSE, chat, "destructive"),
            ]
        else:
            actions += [
                _button(t("card.accept"), ACCEPT, chat, "positive"),
                _button(t("card.join"), JOIN, chat),
            ]
        if chat.participants:
            facts.append({"title": t("card.participants"), "value": participant_list(chat, t)})
    facts += tags_fact(chat, t)
    body.append({"type": "FactSet", "facts": facts})
    if chat.first_messages and chat.state != ChatState.CLOSED:
        body.append(
            {
                "type": "TextBlock",
                "text": t("card.first_messages"),
                "isSubtle": True,
                "wrap": True,
                "spacing": "Medium",
            }
        )
        body += [
            {"type": "TextBlock", "text": card_text(_preview(m)), "wrap": True}
            for m in chat.first_messages
        ]
    tag_body, tag_actions = tag_section(chat, t)
    body += tag_body
    actions += tag_actions
    if note:
        body.append({"type": "TextBlock", "text": note, "color": "Attention", "wrap": True})
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": SCHEMA_VERSION,
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card
