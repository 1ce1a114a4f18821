"""The room's lists: open chats (``@Bot chats``) and closed ones (``@Bot history``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cards.envelope import adaptive_card
from cards.markdown import card_link, card_text
from cards.request import TextLookup, format_duration, language_of
from cards.times import ago
from store.vocabulary import THREAD_MARK, ChatState

if TYPE_CHECKING:  # records, for types only: cards import nothing that imports SQLAlchemy
    from store.lists import ChatList, ListedChat

TEAMS_LINK = "https://teams.microsoft.com/l/message"


def thread_link(thread_id: str) -> str:
    """A Teams deep link that opens a chat's thread (its root message in the channel)."""
    channel, _, root = thread_id.partition(THREAD_MARK)
    root = quote(root, safe="")
    return f"{TEAMS_LINK}/{quote(channel, safe='')}/{root}?parentMessageId={root}"


def _open_line(chat: ListedChat, now: datetime, t: TextLookup) -> str:
    waited = format_duration(now - chat.created_at, t)
    if chat.state == ChatState.WAITING and chat.position is not None:
        status = t("list.queued", position=chat.position, duration=waited)
    elif chat.state == ChatState.WAITING:
        status = t("list.waiting", duration=waited)
    else:
        status = t("list.with", agent=card_text(chat.owner_name or "-"))
    name = chat.customer_name
    title = card_link(name, thread_link(chat.thread_id)) if chat.thread_id else card_text(name)
    return t("list.line", id=chat.id, customer=title, status=status)


def _closed_line(chat: ListedChat, now: datetime, transcript_url: str, t: TextLookup) -> str:
    closed_at = chat.closed_at or chat.created_at
    return t(
        "history.line",
        id=chat.id,
        customer=card_text(chat.customer_name),
        agent=card_text(chat.owner_name or "-"),
        duration=format_duration(closed_at - chat.created_at, t),
        ago=ago(now - closed_at, language_of(t)),
        url=transcript_url,
    )


def chat_list_card(
    listing: ChatList,
    t: TextLookup,
    *,
    closed: bool,
    transcript_url: Callable[[str], str],
    customer: str | None = None,
) -> dict[str, Any]:
    """One card with a line per chat; ``transcript_url(chat_id)`` links closed ones."""
    if closed:
        key = "history.title_for" if customer else "history.title"
        lines = [
            _closed_line(chat, listing.now, transcript_url(chat.ref), t) for chat in listing.chats
        ]
    else:
        key = "list.title"
        lines = [_open_line(chat, listing.now, t) for chat in listing.chats]
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": t(
                key,
                department=card_text(listing.department),
                customer=card_text(customer or ""),
            ),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    if not lines:
        body.append({"type": "TextBlock", "text": t("list.empty"), "isSubtle": True, "wrap": True})
    body += [{"type": "TextBlock", "text": line, "wrap": True} for line in lines]
    if listing.more:
        body.append({"type": "TextBlock", "text": t("list.more"), "isSubtle": True, "wrap": True})
    return adaptive_card(body)
