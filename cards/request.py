"""The request card of a chat: posted when it opens, updated on every change.

Read on a phone first: the state is the headline (a coloured band), then what the
customer asked, then the few facts that matter. Each reader sees the buttons of their
role: Teams asks the bridge for a per-user view of the card (Universal Actions'
``refresh`` with ``userIds``) for the chat's participants and the department's
supervisors; everyone else sees the shared card, which offers Accept while the chat
waits and nothing once someone helps. At most three buttons show; the rest are in the
card's "..." menu.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError

from cards.actions import (
    ACCEPT,
    CLOSE,
    INVITE,
    JOIN,
    LEAVE,
    REFRESH,
    TRANSFER,
    action_data,
)
from cards.envelope import TextLookup, adaptive_card
from cards.firstbot import bot_section
from cards.markdown import card_link, card_text
from cards.tags import tag_section
from cards.times import day_and_time, duration
from store.channels import facts
from store.vocabulary import ChatState, ContactTrust, ParticipantRole

if TYPE_CHECKING:  # records, for types only: cards import nothing that imports SQLAlchemy
    from store.core import ChatView

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
REFRESH_USERS = 60  # Teams refreshes the card for at most this many users
EARLIER_LINKS = 5  # transcripts linked on a returning customer's card
_PREVIEW_CHARS = 300
_SUMMARY_CHARS = 80

# The band's colour per state: dark text on a light tint reads at well over 4.5:1.
_BAND = {ChatState.WAITING: "warning", ChatState.ACTIVE: "good", ChatState.CLOSED: "emphasis"}
# The texts of a chat's state, of the card's buttons and of participants' roles, each key
# said in full.
STATE_KEYS = {
    ChatState.WAITING: "card.state.waiting",
    ChatState.ACTIVE: "card.state.active",
    ChatState.CLOSED: "card.state.closed",
}
VERB_KEYS = {
    ACCEPT: "card.accept",
    JOIN: "card.join",
    CLOSE: "card.close",
    INVITE: "card.invite",
    TRANSFER: "card.transfer",
    LEAVE: "card.leave",
    REFRESH: "card.refresh",
}
ROLE_KEYS = {
    ParticipantRole.OWNER: "role.owner",
    ParticipantRole.INVITED: "role.invited",
    ParticipantRole.SUPERVISOR: "role.supervisor",
}


class Role(StrEnum):
    """How a reader relates to a chat; it decides which buttons their card has."""

    OWNER = "owner"
    INVITED = "invited"
    SUPERVISOR_IN = "supervisor_in"  # a supervisor who joined the chat
    SUPERVISOR = "supervisor"  # a supervisor of the department, not in the chat
    OTHER = "other"


def attachment(card: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": card}


def card_activity(card: dict[str, Any], summary: str) -> dict[str, Any]:
    """A message activity carrying one card (``summary`` is what notifications show)."""
    return {"type": "message", "summary": summary, "attachments": [attachment(card)]}


def channel_name(channel_id: str) -> str:
    """The channel by the name people know it by (``store/channels.py``)."""
    return facts(channel_id).name


def language_of(t: TextLookup) -> str:
    return str(getattr(t, "language", "en"))


def format_duration(span: timedelta, t: TextLookup) -> str:
    """A duration in the reader's language ("13 giây", "12 minutes")."""
    return duration(span, language_of(t))


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


def secondary(action: dict[str, Any]) -> dict[str, Any]:
    """An action for the card's "..." menu (Teams) rather than a visible button."""
    return {**action, "mode": "secondary"}


def _button(t: TextLookup, verb: str, chat: ChatView, style: str | None = None) -> dict[str, Any]:
    return button(t(VERB_KEYS[verb]), action_data(verb, chat.ref), style)


def role_of(chat: ChatView, teams_id: str | None) -> Role:
    """The reader's role from the chat as the database has it (never from the card)."""
    if teams_id is None:
        return Role.OTHER
    if chat.owner_teams_id == teams_id:
        return Role.OWNER
    for member in chat.participants:
        if member.person.teams_id == teams_id:
            if member.role == ParticipantRole.OWNER:
                return Role.OWNER
            if member.role == ParticipantRole.SUPERVISOR:
                return Role.SUPERVISOR_IN
            return Role.INVITED
    return Role.SUPERVISOR if teams_id in chat.supervisors else Role.OTHER


def viewers(chat: ChatView) -> list[str]:
    """Who gets a view of their own: participants first, then supervisors (at most 60)."""
    ids = [m.person.teams_id for m in chat.participants] + list(chat.supervisors)
    return list(dict.fromkeys(ids))[:REFRESH_USERS]


def _actions(chat: ChatView, role: Role, t: TextLookup) -> list[dict[str, Any]]:
    """The buttons of ``role`` in the chat's state, primary ones first."""
    accept = _button(t, ACCEPT, chat, "positive")
    close = _button(t, CLOSE, chat, "destructive")
    invite, transfer = _button(t, INVITE, chat), _button(t, TRANSFER, chat)
    join, leave = _button(t, JOIN, chat), _button(t, LEAVE, chat)
    if chat.state == ChatState.WAITING:
        return {
            Role.SUPERVISOR: [accept, join],
            Role.SUPERVISOR_IN: [accept, leave],
            Role.INVITED: [accept, leave],
        }.get(role, [accept])
    if chat.state == ChatState.ACTIVE:
        return {
            Role.OWNER: [close, transfer, invite],
            Role.INVITED: [invite, leave],
            Role.SUPERVISOR_IN: [close, invite, leave],
            Role.SUPERVISOR: [join, secondary(close)],
        }.get(role, [])
    return []


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def headline(chat: ChatView, t: TextLookup, now: datetime) -> str:
    """ "Waiting · 3 minutes", "Minh Anh is helping", "Closed · 12 minutes"."""
    if chat.state == ChatState.WAITING:
        return t("card.headline.waiting", waited=format_duration(now - chat.created_at, t))
    if chat.state == ChatState.ACTIVE:
        return t("card.headline.active", agent=card_text(chat.owner_name or "-"))
    closed_at = chat.closed_at or chat.created_at
    return t("card.headline.closed", duration=format_duration(closed_at - chat.created_at, t))


def band(chat: ChatView, t: TextLookup, now: datetime) -> dict[str, Any]:
    return {
        "type": "Container",
        "style": _BAND[chat.state],
        "bleed": True,
        "items": [_text(headline(chat, t, now), weight="Bolder", size="Medium")],
    }


def question(chat: ChatView) -> list[str]:
    """What the customer wrote first, without a department name typed as the answer to
    the department question (its own, or its name in a customer's language)."""
    names = (chat.department, *(chat.department_names or {}).values())
    chosen = {name.casefold() for name in names if isinstance(name, str)}
    return [m for m in chat.first_messages if m.strip().casefold() not in chosen]


def _preview(text: str, limit: int = _PREVIEW_CHARS) -> str:
    text = " ".join(text.split()) if limit < _PREVIEW_CHARS else text
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stars(score: int) -> str:
    return "★" * score + "☆" * (5 - score)


def _rating_line(rating: tuple[int, str | None], t: TextLookup) -> dict[str, Any]:
    """The customer's rating under a closed chat's facts (their comment escaped)."""
    score, comment = rating
    line = t("card.rating", stars=stars(score), score=score)
    if comment:
        line = f"{line} · “{card_text(comment)}”"
    return {"type": "TextBlock", "text": line, "wrap": True, "weight": "Bolder"}


def summary(chat: ChatView) -> str:
    """What a phone's notification says: "Lan: Chào shop, đơn hàng #A1234…"."""
    asked = question(chat)
    if not asked:
        return chat.customer_name
    return f"{chat.customer_name}: {_preview(asked[0], _SUMMARY_CHARS)}"


def participant_list(chat: ChatView, t: TextLookup) -> str:
    """ "Mai (owner), Hùng (invited)": who takes part now, and as what."""
    return ", ".join(
        t("card.participant", name=card_text(m.person.name), role=t(ROLE_KEYS[m.role]))
        for m in chat.participants
    )


def channel_line(chat: ChatView, t: TextLookup, now: datetime) -> str:
    """ "Zalo · can reply until 14:05 tomorrow": the customer's channel, and where it has
    a reply window, until when an answer can still reach them (or that it cannot)."""
    channel = facts(chat.customer_channel)
    last = chat.customer_last_at
    if channel.window is None or last is None or chat.state == ChatState.CLOSED:
        return channel.name
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    until = channel.window.until(last)
    if until <= now:
        return f"{channel.name} · {t('card.window_closed')}"
    when = day_and_time(until, now, chat.time_zone, language_of(t))
    return f"{channel.name} · {t('card.window_until', when=when)}"


def language_name(code: str, t: TextLookup) -> str:
    """The customer's language named in the reader's ("Tiếng Anh", "Vietnamese")."""
    return _language_name(code.split("-")[0].lower(), language_of(t))


@lru_cache(maxsize=256)
def _language_name(code: str, reader: str) -> str:
    """Babel's name, kept: every card names the language."""
    try:
        named = Locale.parse(reader).languages.get(code)
    except (ValueError, UnknownLocaleError):
        named = None
    return named[:1].upper() + named[1:] if named else code


def _facts(chat: ChatView, t: TextLookup, now: datetime) -> list[dict[str, str]]:
    customer = " · ".join(
        (
            card_text(chat.customer_name),
            channel_line(chat, t, now),
            language_name(chat.customer_locale, t),
        )
    )
    facts = [{"title": t("card.customer"), "value": customer}]
    if chat.customer_contact:
        facts.append({"title": t("card.contact"), "value": card_text(chat.customer_contact)})
    if chat.earlier_chats:
        returning = t(
            "card.returning",
            count=len(chat.earlier_chats),
            owner=card_text(chat.earlier_owner or "-"),
        )
        facts.append({"title": t("card.returning_title"), "value": returning})
    facts += [{"title": t("card.linked_title"), "value": line} for line in linked_lines(chat, t)]
    facts.append({"title": t("card.department"), "value": card_text(chat.department or "-")})
    if chat.participants and chat.state != ChatState.CLOSED:
        facts.append({"title": t("card.participants"), "value": participant_list(chat, t)})
    if chat.state == ChatState.CLOSED:
        facts.append({"title": t("card.owner"), "value": card_text(chat.owner_name or "-")})
        facts.append({"title": t("card.messages"), "value": str(chat.message_count)})
    if chat.tags:
        facts.append({"title": t("card.tags"), "value": card_text(", ".join(chat.tags))})
    return facts


# "same phone": the contacts a match is on, by the kinds that match (explicit keys).
_SAME = {
    ("email",): "card.same_email",
    ("phone",): "card.same_phone",
    ("email", "phone"): "card.same_email_phone",
}


def _known_as(trust: ContactTrust, channel: str, t: TextLookup) -> str:
    """How one side of a match knows the contact: only the customer's word, an agent's
    record, or the channel's verification (Zalo's shared phone)."""
    if trust >= ContactTrust.VERIFIED:
        return t("card.contact_verified", channel=facts(channel).name)
    if trust >= ContactTrust.RECORDED:
        return t("card.contact_recorded")
    return t("card.contact_given")


def linked_lines(chat: ChatView, t: TextLookup) -> list[str]:
    """ "Website: 3 earlier chat(s), same phone. Here: verified by Zalo; there: given by
    the customer, not verified": each other channel the same person wrote from (a
    matching contact), and how far the match can be trusted, side by side."""
    lines = []
    for linked in chat.linked:
        said = t(
            "card.linked",
            channel=facts(linked.channel).name,
            count=len(linked.chats),
            same=t(_SAME.get(linked.kinds, "card.same_email_phone")),
        )
        trust = t(
            "card.linked_trust",
            ours=_known_as(linked.ours, chat.customer_channel, t),
            theirs=_known_as(linked.theirs, linked.channel, t),
        )
        lines.append(f"{said} {trust}")
    return lines


def _earlier(
    chat: ChatView, t: TextLookup, links: Callable[[str], str] | None
) -> list[dict[str, Any]]:
    """Links to a returning customer's earlier transcripts (theirs, then those of the same
    person on other channels), as one line of text (links in text take no button space
    on a phone)."""
    if not (chat.earlier_chats or chat.linked) or links is None:
        return []
    own = [(t("card.earlier_chat", id=chat_id), ref) for chat_id, ref in chat.earlier_chats]
    other = [
        (t("card.earlier_chat_on", channel=facts(linked.channel).name, id=chat_id), ref)
        for linked in chat.linked
        for chat_id, ref in linked.chats
    ]
    items = " · ".join(
        card_link(label, links(ref))
        for label, ref in [*own[:EARLIER_LINKS], *other[:EARLIER_LINKS]]
    )
    return [_text(t("card.earlier_transcripts", links=items), isSubtle=True, size="Small")]


def request_card(
    chat: ChatView,
    t: TextLookup,
    *,
    now: datetime | None = None,
    viewer: str | None = None,
    note: str | None = None,
    links: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """The card of a chat as ``viewer`` (a Teams user id) sees it; None: the shared card.

    ``now`` dates the waiting time; ``links`` makes transcript links from chat
    references (the closed chat's own, a returning customer's earlier ones).
    """
    now = now or chat.created_at
    role = role_of(chat, viewer)
    body: list[dict[str, Any]] = [band(chat, t, now)]
    if note:
        body.append(_text(note, color="Attention", weight="Bolder"))
    body += [_text(card_text(_preview(m))) for m in question(chat)]
    body.append({"type": "FactSet", "facts": _facts(chat, t, now), "spacing": "Medium"})
    body += bot_section(chat.bot_context, t)
    if chat.rating is not None:
        body.append(_rating_line(chat.rating, t))
    body += _earlier(chat, t, links)
    actions = _actions(chat, role, t)
    if chat.state == ChatState.CLOSED and links is not None:
        actions.append(
            {"type": "Action.OpenUrl", "title": t("card.transcript"), "url": links(chat.ref)}
        )
    if role != Role.OTHER:
        tag_body, tag_actions = tag_section(chat, t)
        body += tag_body
        actions += [secondary(a) for a in tag_actions]
    card = adaptive_card(body, actions)
    users = viewers(chat)
    if chat.state != ChatState.CLOSED and users:
        card["refresh"] = {
            "action": {
                "type": "Action.Execute",
                "verb": REFRESH,
                "data": action_data(REFRESH, chat.ref),
            },
            "userIds": users,
        }
    return card
