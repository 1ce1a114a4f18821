"""The store's words, said once: the states its tables keep, why a change was refused and
what happened to a chat.

Before, "not a room" was said three ways and ``NotSupervisor`` existed twice; a dialog
matching on the wrong one silently fell through. A refusal is now one outcome type with
one reason from one enum, and the reasons are plain strings so they travel as JSON
(logs, outbox payloads) and come back equal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from store.views import ChatView


# A Teams reply thread's conversation id is its channel's with this and the root post's
# id after it (``19:abc@thread.tacv2;messageid=1700000000000``): said once, here.
THREAD_MARK = ";messageid="


# -- states the tables keep -------------------------------------------------------------


class ContactTrust(enum.IntEnum):
    """How a customer's contact is known (``customer_contacts.trust``), weakest first: the
    customer gave it (anybody can type anybody's number), an agent recorded it, the
    channel verified it (the phone a Zalo user shared with the OA)."""

    GIVEN = 1
    RECORDED = 2
    VERIFIED = 3


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
    FIRST_BOT = "first_bot"  # what the company's bot said before it handed the chat over


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
    # The trust gate (``bot/trust.py``), before any flow: logged, never shown as such.
    NOT_A_TEAMS_CHANNEL = "not_a_teams_channel"
    NO_TENANT = "no_tenant"
    INCONSISTENT_CHANNEL = "inconsistent_channel"  # channelData names another channel
    WRONG_TEAM = "wrong_team"  # the room is bound to another team
    # Setup where no tenant is configured and tokens are checked (``ALLOWED_TENANTS``).
    TENANT_NOT_CONFIGURED = "tenant_not_configured"
    CHAT_OF_ANOTHER_ROOM = "chat_of_another_room"  # a card pressed outside its chat's room
    # Only a supervisor of the room's department may (setup: of any, to add a department).
    NOT_SUPERVISOR = "not_supervisor"
    NOT_PARTICIPANT = "not_participant"  # neither in the chat nor supervising it
    CHAT_CLOSED = "chat_closed"  # the chat is closed: nothing changes it any more
    UNKNOWN_CHAT = "unknown_chat"  # no such chat (a tampered or foreign card)
    CLOSE_NOT_ALLOWED = "close_not_allowed"  # neither its owner nor supervising it
    # A chat moves only while it waits, to another department, by one of its supervisors.
    MOVE_NOT_ALLOWED = "move_not_allowed"
    # Setup (``refusal.setup_*``): another tenant owns the install (it is told nothing);
    # the channel is the room of another department (``department`` names it).
    FOREIGN_TENANT = "foreign_tenant"
    CHANNEL_TAKEN = "channel_taken"
    # Ratings, each value the key of the customer's answer (``csat.*``): the chat was
    # rated before; its rating window has passed; no closed chat of theirs to rate.
    ALREADY_RATED = "already_rated"
    RATING_TOO_LATE = "rating_too_late"
    NOTHING_TO_RATE = "nothing_to_rate"
    ALREADY_COMMENTED = "already_commented"  # a comment after the score is taken once
    # Room commands (lists, supervisors, the console's link).
    SUPERVISOR_ONLY = "supervisor_only"
    LAST_SUPERVISOR = "last_supervisor"  # a department keeps one supervisor at least
    # Team moves; each value is also the key of the text that says why (``refusal.*``).
    OFFER_NOT_ACTIVE = "offer_not_active"
    TRANSFER_NOT_OWNER = "transfer_not_owner"
    INVITE_NOT_PARTICIPANT = "invite_not_participant"
    RECIPIENT_OFFLINE = "recipient_offline"
    RECIPIENT_IN_CHAT = "recipient_in_chat"
    INVITE_PENDING = "invite_pending"
    TRANSFER_PENDING = "transfer_pending"
    OFFER_CLOSED = "offer_closed"
    OFFER_NOT_YOURS = "offer_not_yours"
    JOIN_CLOSED = "join_closed"
    ALREADY_IN_CHAT = "already_in_chat"
    JOIN_NOT_SUPERVISOR = "join_not_supervisor"
    LEAVE_NOT_PARTICIPANT = "leave_not_participant"
    LEAVE_OWNER = "leave_owner"
    NO_COLLEAGUES = "no_colleagues"


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


# -- what the outbox carries ----------------------------------------------------------


class OutboxKind(StrEnum):
    """What an outbox row asks the dispatcher to do."""

    SEND = "send"  # an activity to a conversation, or into a chat's thread
    SEND_PERSONAL = "send_personal"  # a 1:1 Teams message, the conversation opened first
    CREATE_THREAD = "create_thread"  # a chat's card as a new thread in its room
    UPDATE_CARD = "update_card"  # a chat's card redrawn in place
    EMAIL = "email"  # a mail to a chat's customer (``bot/mail.py``), not through a connector
    BOT_EVENT = "bot_event"  # an event to the company's bot over Direct Line (``bot/firstbot.py``)


class MailPurpose(StrEnum):
    """What a mail to a customer carries."""

    REPLIES = "replies"  # the agents' lines written since the customer left, not mailed yet
    TRANSCRIPT = "transcript"  # the whole chat, asked for at its close


@dataclass(frozen=True)
class Send:
    """An activity to a stored conversation reference (``conversation``: a customer, a
    room's root) or, without one, into the thread of chat ``chat_id`` (known only once
    its card is posted). ``words``: who wrote the line, when it is someone's line (lines
    of one author waiting in one lane may go as one post). ``transcript_chat``: keep it
    in that chat's transcript as the bridge's own words (read when queued, not stored).
    ``replaces``: the id of a message sent before that this one redraws in place (an
    answered card locked, where the channel can replace a sent message)."""

    kind: ClassVar[OutboxKind] = OutboxKind.SEND
    activity: dict[str, Any]
    conversation: dict[str, Any] | None = None
    chat_id: int | None = None
    words: str | None = None
    transcript_chat: int | None = None
    replaces: str | None = None


@dataclass(frozen=True)
class SendPersonal:
    """A personal message to ``member`` (``{"id": teams id}``), opened through the room's
    service URL, bot and tenant when it is delivered."""

    kind: ClassVar[OutboxKind] = OutboxKind.SEND_PERSONAL
    room: dict[str, Any]
    member: dict[str, Any]
    activity: dict[str, Any]


@dataclass(frozen=True)
class CreateThread:
    """Chat ``chat_id``'s card posted as a new thread in ``room`` (its reference)."""

    kind: ClassVar[OutboxKind] = OutboxKind.CREATE_THREAD
    chat_id: int
    room: dict[str, Any]
    activity: dict[str, Any]


@dataclass(frozen=True)
class UpdateCard:
    """Chat ``chat_id``'s card replaced by ``activity``'s."""

    kind: ClassVar[OutboxKind] = OutboxKind.UPDATE_CARD
    chat_id: int
    activity: dict[str, Any]


@dataclass(frozen=True)
class Email:
    """A mail to chat ``chat_id``'s customer. It names no text: what it carries is read
    from the transcript when it is sent, so replies written while it waited go in the
    same mail, and a retry never mails a line twice (``chats.mailed_through``)."""

    kind: ClassVar[OutboxKind] = OutboxKind.EMAIL
    chat_id: int
    purpose: str = MailPurpose.REPLIES


@dataclass(frozen=True)
class BotEvent:
    """An event to the company's bot in chat ``chat_id``'s Direct Line conversation
    (``handoff.status``). ``key``: the row's own id, sent with the event, so a bot that
    sees one delivered twice (a retry after a lost answer) can tell."""

    kind: ClassVar[OutboxKind] = OutboxKind.BOT_EVENT
    chat_id: int
    name: str
    value: dict[str, Any]
    key: str


Payload = Send | SendPersonal | CreateThread | UpdateCard | Email | BotEvent
_PAYLOADS: dict[str, type[Payload]] = {
    cls.kind: cls for cls in (Send, SendPersonal, CreateThread, UpdateCard, Email, BotEvent)
}


def payload_json(payload: Payload) -> dict[str, Any]:
    """The row's JSON: the payload's fields, absent ones left out."""
    return {
        f.name: getattr(payload, f.name)
        for f in fields(payload)
        if getattr(payload, f.name) is not None
    }


def read_payload(kind: str, data: dict[str, Any]) -> Payload:
    """A row's payload, typed by its kind (ValueError for a kind nobody writes)."""
    cls = _PAYLOADS[OutboxKind(kind)]
    return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
