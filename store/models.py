"""Tables of the bridge, as SQLAlchemy 2.0 typed declarative models.

Timestamps are timezone-aware UTC on both engines; enums are stored as
VARCHAR (``native_enum=False``) so that SQLite and PostgreSQL share one schema.
"""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.vocabulary import (
    Availability,
    ChatState,
    DeliveryState,
    MessageKind,
    OfferKind,
    OfferState,
    ParticipantRole,
)

# The states the tables store are the vocabulary's words (imported here for the columns
# and for the modules that read them with the tables).
__all__ = [
    "Availability",
    "ChatState",
    "DeliveryState",
    "MessageKind",
    "OfferKind",
    "OfferState",
    "ParticipantRole",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime that always comes back timezone-aware in UTC.

    SQLite has no time zones and returns naive values; without this, comparisons
    between stored and fresh times would fail on one engine and not the other.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


def new_chat_ref() -> str:
    """A chat's public reference: random, so cards and links never reveal or invite
    guessing of row ids (16 bytes of randomness, URL-safe)."""
    return secrets.token_urlsafe(16)


class Base(AsyncAttrs, DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class Setting(Base):
    """Small server-wide values that must survive restarts (the transcript secret)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ChannelToken(Base):
    """A channel's OAuth pair (Zalo's OA access and refresh tokens). Refresh tokens are
    single-use: the row is locked while one replica renews it, and the new pair is written
    in that same transaction, so no two replicas ever spend the same refresh token."""

    __tablename__ = "channel_tokens"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None] = mapped_column()
    # How many times the pair was renewed (tests and operators read it).
    refreshed: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column()


class AiBudget(Base):
    """Calls to the AI provider counted against one budget: ``chat:<id>`` (per chat) or
    ``day:<department id>:<YYYY-MM-DD>`` (per department per day). A call is claimed by
    one conditional UPDATE (``calls < limit`` in the WHERE), so replicas never overspend."""

    __tablename__ = "ai_budgets"

    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column()


class Department(Base):
    """A department and its room: the Teams channel where its chats are posted."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    team_id: Mapped[str | None] = mapped_column(String(256))
    channel_id: Mapped[str] = mapped_column(String(256))
    room_reference: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # Most chats an agent may own at once here; NULL: the bridge's default (unlimited).
    capacity: Mapped[int | None]
    # The department's own IANA time zone for its transcripts; NULL: the bridge's TIME_ZONE.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # Who gets a new chat: ``broadcast`` (every online agent, first Accept wins),
    # ``round_robin`` or ``least_busy`` (one agent is offered it, in turn or the least loaded).
    assignment: Mapped[str] = mapped_column(
        String(16), default="broadcast", server_default=text("'broadcast'")
    )
    # Its name in customers' languages (``{"vi": "Hỗ trợ", "en": "Support"}``), shown in
    # texts to customers; NULL or a missing language: ``name``.
    names: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)
    # Response-time targets in business seconds (``store/targets.py``): the first answer,
    # and the next one while the customer waits; NULL: no target (the default).
    first_response_target: Mapped[int | None] = mapped_column(default=None)
    next_response_target: Mapped[int | None] = mapped_column(default=None)
    # A company bot answers its new chats first (over Direct Line), until it hands over.
    first_bot: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # The queue's priority (first come, first served within it): chats carrying this tag
    # (NULL: none), and chats of returning customers (who had a chat closed before).
    queue_priority_tag: Mapped[str | None] = mapped_column(String(64))
    queue_returning: Mapped[bool] = mapped_column(default=False, server_default=text("false"))


class Agent(Base):
    """A Teams user who has appeared in a room."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    teams_id: Mapped[str] = mapped_column(String(256), unique=True)
    aad_object_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    availability: Mapped[Availability] = mapped_column(
        _enum(Availability), default=Availability.OFFLINE
    )
    created_at: Mapped[datetime]
    # The Teams presence Graph last reported (PRESENCE_SYNC=graph); NULL: never read.
    graph_presence: Mapped[str | None] = mapped_column(String(32))


class Supervisor(Base):
    __tablename__ = "supervisors"
    __table_args__ = (UniqueConstraint("department_id", "agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime]


class Customer(Base):
    """Someone writing to the bot from any channel; the reference is how to reach them."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("channel_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(256))
    name: Mapped[str] = mapped_column(String(256))
    locale: Mapped[str] = mapped_column(String(16))
    reference: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # A digest of the conversation they last wrote from: the intake limits count by it.
    conversation_key: Mapped[str | None] = mapped_column(String(64), index=True)
    # An e-mail address or phone number the customer gave in the website's pre-chat form.
    contact: Mapped[str | None] = mapped_column(String(256), default=None)


class CustomerContact(Base):
    """An e-mail address or phone number of a customer, normalised (``store/contacts.py``),
    with how it is known: ``trust`` 1 given by the customer (the website's form, a line
    they wrote), 2 recorded by an agent, 3 verified by the channel (the phone a Zalo user
    shared with the OA). Customers of different channels sharing a value are one person
    for the agents (``store/contacts.py``), unless an agent unlinked them."""

    __tablename__ = "customer_contacts"
    __table_args__ = (
        UniqueConstraint("customer_id", "kind", "value"),
        # Who else has this value: the match is one indexed lookup.
        Index("ix_customer_contacts_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(8))  # email | phone
    value: Mapped[str] = mapped_column(String(256))
    trust: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class CustomerUnlink(Base):
    """Two customers an agent said are not the same person although a contact matches:
    kept both ways round (one row per direction), so a match is hidden by one lookup."""

    __tablename__ = "customer_unlinks"
    __table_args__ = (UniqueConstraint("customer_id", "other_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    other_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime]


class Chat(Base):
    """One support conversation."""

    __tablename__ = "chats"
    __table_args__ = (
        # At most one open chat per customer: the database settles concurrent first messages.
        Index(
            "uq_chats_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=text("state != 'closed'"),
            postgresql_where=text("state != 'closed'"),
        ),
        Index("ix_chats_department_state", "department_id", "state"),
        Index("ix_chats_created", "created_at"),
        # A department's chats of a date range: reports, and the history's dates.
        Index("ix_chats_department_created", "department_id", "created_at"),
        # The history: a department's closed chats, newest closed first, a page at a time.
        Index(
            "ix_chats_closed",
            "department_id",
            "closed_at",
            "id",
            sqlite_where=text("state = 'closed'"),
            postgresql_where=text("state = 'closed'"),
        ),
        # The report's roll-ups: the oldest chat closed within the rating window, whichever
        # department (``store.report_days.horizon``).
        Index(
            "ix_chats_closed_at",
            "closed_at",
            sqlite_where=text("state = 'closed'"),
            postgresql_where=text("state = 'closed'"),
        ),
        # The unanswered-chat timer: only waiting chats (closed ones may keep announce_at).
        Index(
            "ix_chats_announce_waiting",
            "announce_at",
            sqlite_where=text("state = 'waiting'"),
            postgresql_where=text("state = 'waiting'"),
        ),
        # The response-target timers: only chats whose customer waits under a target.
        Index(
            "ix_chats_target_remind",
            "target_remind_at",
            sqlite_where=text("target_remind_at IS NOT NULL"),
            postgresql_where=text("target_remind_at IS NOT NULL"),
        ),
        Index(
            "ix_chats_target_breach",
            "target_breach_at",
            sqlite_where=text("target_breach_at IS NOT NULL"),
            postgresql_where=text("target_breach_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What cards and links name the chat by; the row id never leaves the database.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_chat_ref)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    state: Mapped[ChatState] = mapped_column(_enum(ChatState))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    thread_id: Mapped[str | None] = mapped_column(String(512), unique=True)
    card_activity_id: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    first_reply_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    slowed_until: Mapped[datetime | None]
    # When a still waiting chat is announced again in its thread; cleared by the firing.
    announce_at: Mapped[datetime | None]
    # Opened beyond the new-chat limits: its card waits for ``announce_at`` to be posted.
    held: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # The automatic assignment's one pending offer: whom the chat is offered to, until when
    # (a timer in the database); one column, so a chat is never offered to two at once.
    offered_to_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    offer_expires_at: Mapped[datetime | None] = mapped_column(index=True)
    # Who last let the offer go (declined or timed out): the next offer prefers another.
    passed_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    # The queue position the customer was last told, and when (notices are rate-limited).
    queue_told: Mapped[int | None]
    queue_told_at: Mapped[datetime | None]
    # The last agent's line mailed to the customer (``bot/mail.py``): a mail carries the
    # lines after it, so a retried or batched mail never repeats one.
    mailed_through: Mapped[int | None] = mapped_column(default=None)
    # The customer's current wait under a response target (``store/targets.py``): when it
    # began, when the answer is due (kept until the answer), and the two timers of the
    # wait, each cleared by the conditional UPDATE that fires it (once across replicas).
    target_since: Mapped[datetime | None] = mapped_column(default=None)
    target_due_at: Mapped[datetime | None] = mapped_column(default=None)
    target_remind_at: Mapped[datetime | None] = mapped_column(default=None)
    target_breach_at: Mapped[datetime | None] = mapped_column(default=None)
    # What the company's bot knew when it handed the chat over (its card shows it):
    # ``va_AgentMessage``, ``va_LastTopic``, ``va_LastPhrases``, ``va_Language``, and
    # ``reason`` (``handoff``, ``asked``: the customer asked for a person, ``timeout``).
    bot_context: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class FirstBotChat(Base):
    """A chat's conversation with the company's bot (``bot/firstbot.py``): its Direct Line
    conversation and token, how far its activities were read, whether it still answers
    (``talking``) or handed over (``handed``). The bot's lines are messages of their own
    kind (``first_bot``), apart from the agents' part."""

    __tablename__ = "first_bot_chats"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), primary_key=True)
    conversation_id: Mapped[str | None] = mapped_column(String(256))
    token: Mapped[str | None] = mapped_column(Text)
    watermark: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="talking")
    created_at: Mapped[datetime]


class DepartmentMember(Base):
    """An agent who has acted in a department's room: whom ``who`` lists and mentions."""

    __tablename__ = "department_members"
    __table_args__ = (UniqueConstraint("department_id", "agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime]
    # When the department last offered this member a chat: round robin goes to the longest ago.
    last_offered_at: Mapped[datetime | None]


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("chat_id", "agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    role: Mapped[ParticipantRole] = mapped_column(_enum(ParticipantRole))
    left_at: Mapped[datetime | None]


class Offer(Base):
    """An invitation or a transfer: who asked whom, and how it ended (the record of team moves).

    ``expires_at`` is a timer in the database: whoever claims a due pending offer
    with a conditional UPDATE withdraws it, once across replicas and restarts.
    """

    __tablename__ = "offers"
    __table_args__ = (
        Index("ix_offers_due", "state", "expires_at"),
        Index("ix_offers_chat", "chat_id", "state"),
        # One transfer of a chat waits for an answer at a time, and one invitation per
        # colleague: the database settles two agents (or replicas) offering at once.
        Index(
            "uq_offers_pending_transfer",
            "chat_id",
            unique=True,
            sqlite_where=text("state = 'pending' AND kind = 'transfer'"),
            postgresql_where=text("state = 'pending' AND kind = 'transfer'"),
        ),
        Index(
            "uq_offers_pending_invite",
            "chat_id",
            "to_agent_id",
            unique=True,
            sqlite_where=text("state = 'pending' AND kind = 'invite'"),
            postgresql_where=text("state = 'pending' AND kind = 'invite'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    kind: Mapped[OfferKind] = mapped_column(_enum(OfferKind))
    from_agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    to_agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    state: Mapped[OfferState] = mapped_column(_enum(OfferState))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Message(Base):
    """A transcript line. ``source_key`` is the channel's own activity key, unique."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_chat", "chat_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    author: Mapped[str] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text)
    source_key: Mapped[str | None] = mapped_column(String(700), unique=True)
    created_at: Mapped[datetime]
    # Files and images passed on with the message: [{"name", "url", "contentType"}].
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)


class CannedAnswer(Base):
    """A department's ready-made answer (``department_id`` NULL: company-wide)."""

    __tablename__ = "canned_answers"
    __table_args__ = (
        UniqueConstraint("department_id", "shortcut"),
        # NULLs are distinct in a unique constraint: company-wide shortcuts need their own.
        Index(
            "uq_canned_company_shortcut",
            "shortcut",
            unique=True,
            sqlite_where=text("department_id IS NULL"),
            postgresql_where=text("department_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    shortcut: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Tag(Base):
    """A label a department's agents may put on its chats."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("department_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class ChatTag(Base):
    __tablename__ = "chat_tags"
    __table_args__ = (UniqueConstraint("chat_id", "tag_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), index=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime]


class TagRequirement(Base):
    """A row here means: this department's chats need a tag before they can be closed.

    A table of its own rather than a column of ``departments``: it was added before the
    schema had migrations, when only new tables reached existing databases.
    """

    __tablename__ = "tag_requirements"

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    created_at: Mapped[datetime]


class TypingMark(Base):
    """When a typing indicator was last passed on for a chat, per direction (the throttle)."""

    __tablename__ = "typing_marks"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), primary_key=True)
    direction: Mapped[str] = mapped_column(String(16), primary_key=True)
    sent_at: Mapped[datetime]


class InboundActivity(Base):
    """Keys of activities already handled, so a re-delivery changes nothing."""

    __tablename__ = "inbound_activities"

    key: Mapped[str] = mapped_column(String(700), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)


class OutboxItem(Base):
    """An activity to deliver, written in the same transaction as the change that caused it.

    Items of one ``lane`` (one target conversation) are delivered strictly in id
    order; only the oldest pending item of a lane may be leased.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_lane_state", "lane", "state", "id"),
        # The sweep and its next wake-up read only pending rows; the purge reads only the
        # delivered and failed rows past their retention: each its own partial index.
        Index(
            "ix_outbox_pending",
            "next_attempt_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index(
            "ix_outbox_delivered",
            "delivered_at",
            sqlite_where=text("state = 'delivered'"),
            postgresql_where=text("state = 'delivered'"),
        ),
        Index(
            "ix_outbox_failed",
            "created_at",
            sqlite_where=text("state = 'failed'"),
            postgresql_where=text("state = 'failed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lane: Mapped[str] = mapped_column(String(600))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    state: Mapped[DeliveryState] = mapped_column(_enum(DeliveryState))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class ResponseWait(Base):
    """One wait of a customer under a response target, kept when it ends (answered) or
    is breached: what the reports count (share answered within target, breaches by agent
    and by hour). One row per wait: (chat, since) is unique, so the breach's row is the
    one its answer completes."""

    __tablename__ = "response_waits"
    __table_args__ = (
        UniqueConstraint("chat_id", "since"),
        Index("ix_response_waits_department_since", "department_id", "since"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    # The owner when it was breached, else who answered; NULL: nobody had the chat yet.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    kind: Mapped[str] = mapped_column(String(8))  # ``first`` or ``next``
    since: Mapped[datetime]
    due_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
