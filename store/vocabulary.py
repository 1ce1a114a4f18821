"""The store's words: why a change was refused and what happened to a chat, said once.

Before, "not a room" was said three ways and ``NotSupervisor`` existed twice; a dialog
matching on the wrong one silently fell through. A refusal is now one outcome type with
one reason from one enum, and the reasons are plain strings so they travel as JSON
(logs, outbox payloads) and come back equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from store.views import ChatView


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
