"""Plain activities the flows send: text, text with an @mention, and where they go."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cards.markdown import mention_entity, mention_markup
from store.core import ChatView, Person
from store.outbox import Outgoing, chat_lane, conversation_lane
from store.vocabulary import CreateThread, Send, UpdateCard


@dataclass(frozen=True)
class Mention:
    """An @mention of a Teams user; ``markup`` goes into the text where it should show."""

    person: Person

    @property
    def markup(self) -> str:
        return mention_markup(self.person)

    def entity(self) -> dict[str, Any]:
        return mention_entity(self.person)


def text_activity(text: str, *, mentions: tuple[Mention, ...] = ()) -> dict[str, Any]:
    activity: dict[str, Any] = {"type": "message", "text": text, "textFormat": "markdown"}
    if mentions:
        activity["entities"] = [m.entity() for m in mentions]
    return activity


def agent_line(text: str, agent: str) -> dict[str, Any]:
    """An agent's words to a customer, signed with the agent's name (``from.name``, which
    Web Chat and the website's chat show with the agent's initials; ``channelData`` says it
    is a person's line, so the page tells it from the bridge's own notices)."""
    activity = text_activity(text)
    activity["from"] = {"name": agent}
    activity["channelData"] = {"supportBridge": {"agent": agent}}
    return activity


def to_conversation(
    reference: dict[str, Any], activity: dict[str, Any], *, by: str | None = None
) -> Outgoing:
    """Send to a stored conversation (a customer, or a room's root). ``by``: the author of
    a line someone wrote (not a notice of the bridge's); lines of one author waiting in
    one lane may be delivered as one post."""
    lane = conversation_lane(reference["conversation"]["id"])
    return Outgoing.of(lane, Send(activity, conversation=reference, words=by))


def to_customer(chat: ChatView, activity: dict[str, Any]) -> Outgoing:
    """Tell a chat's customer something in the bridge's own words; the transcript keeps it
    too, so that a forwarded transcript shows everything the customer read."""
    lane = conversation_lane(chat.customer_reference["conversation"]["id"])
    send = Send(activity, conversation=chat.customer_reference, transcript_chat=chat.id)
    return Outgoing.of(lane, send)


def to_thread(chat_id: int, activity: dict[str, Any], *, by: str | None = None) -> Outgoing:
    """Send into a chat's thread (resolved at delivery, after the card is posted)."""
    return Outgoing.of(chat_lane(chat_id), Send(activity, chat_id=chat_id, words=by))


def new_thread(chat_id: int, room: dict[str, Any], activity: dict[str, Any]) -> Outgoing:
    return Outgoing.of(chat_lane(chat_id), CreateThread(chat_id, room, activity))


def card_update(chat_id: int, activity: dict[str, Any]) -> Outgoing:
    return Outgoing.of(chat_lane(chat_id), UpdateCard(chat_id, activity))
