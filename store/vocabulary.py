"""The store's words, said once: the states its tables keep, why a change was refused and
what happened to a chat.

Before, "not a room" was said three ways and ``NotSupervisor`` existed twice; a dialog
matching on the wrong one silently fell through. A refusal is now one outcome type with
one reason from one enum, and the reasons are plain strings so they travel as JSON
(logs, outbox payloads) and come back equal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from store.views import ChatView


# -- states the tables keep -------------------------------------------------------------


class ChatState(enum.StrEnum):
    WAITING = "waiting"
    ACTIVE = "active"
    CLOSED = "closed"


class MessageKind(enum.StrEnum):
    """What a transcript line is (Chatwoot's incoming/outgoing/activity, plus notes)."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"
    NOTE = "note"
    ACTIVITY = "activity"
    BOT = "bot"  # what the bridge itself told the customer (acknowledgements, who joined)


class ParticipantRole(enum.StrEnum):
    OWNER = "owner"
    INVITED = "invited"
    SUPERVISOR = "supervisor"


class Availability(enum.StrEnum):
    """An agent's presence as they set it; only ``online`` agents are offered chats."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class OfferKind(enum.StrEnum):
    """An agent asking a colleague into a chat: to help (invite) or to own it (transfer)."""

    INVITE = "invite"
    TRANSFER = "transfer"


class OfferState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


# -- outcomes and events ----------------------------------------------------------------


class Refusal(StrEnum):
    """Why the store did not make a change."""

    NOT_A_ROOM = "not_a_room"  # the channel is no department's room
    NOT_SUPERVISOR = "not_supervisor"  # only a supervisor of the room's department may
    NOT_PARTICIPANT = "not_participant"  # neither in the chat nor supervising it
    CHAT_CLOSED = "chat_closed"  # the chat is closed: nothing changes it any more
    UNKNOWN_CHAT = "unknown_chat"  # no such chat (a tampered or foreign card)


class ChatEvent(StrEnum):
    """What happened to a chat, as its transcript keeps it (a line of kind ``activity``;
    the transcript page shows it in the reader's language under the same key)."""

    ACCEPTED = "chat.accepted"
    CLOSED = "chat.closed"
    MOVED = "chat.moved"
    TRANSFERRED = "chat.transferred"
    INVITE_ACCEPTED = "chat.invite_accepted"
    SUPERVISOR_JOINED = "chat.supervisor_joined"
    LEFT = "chat.left"


@dataclass(frozen=True)
class Refused:
    """A change the store refused, and why. ``chat``: the chat as it stands, where the
    refusal is about one (cards are redrawn from it); ``department``: the room's
    department, where the refusal names it (only its supervisors may)."""

    reason: Refusal
    chat: ChatView | None = None
    department: str | None = None
