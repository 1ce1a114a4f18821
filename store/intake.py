"""A customer's message: stored once, and the first one opens a chat.

``do_customer_message`` is the hottest transition of the bridge (every message a
customer writes): one unit of work of four statements when the chat is under way (its
customer, open chat, flood count and lane in one read; the inbound keys; the line; the
outgoing row, leased as it is written when its lane is idle).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Row,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from store import firstbot, targets, trace
from store.audience import Audience, Choices, audience, department_choices
from store.contacts import keep_given
from store.core import Duplicate
from store.models import (
    Chat,
    ChatState,
    Customer,
    DeliveryState,
    Department,
    Message,
    MessageKind,
    OutboxItem,
    UTCDateTime,
)
from store.outbox import chat_lane
from store.unit import Unit
from store.views import ChatView, view_of


@dataclass(frozen=True)
class FloodLimit:
    """More than ``messages`` within ``window`` seconds is too fast for one chat."""

    messages: int
    window: float


@dataclass(frozen=True)
class CustomerTurn:
    """A customer's message as the store keeps it."""

    channel_id: str
    user_id: str
    name: str
    locale: str
    reference: dict[str, Any]
    text: str
    source_key: str | None
    attachments: tuple[dict[str, Any], ...] = ()
    conversation_key: str | None = None
    contact: str | None = None  # from the website's pre-chat form, when given
    # An e-mail address or phone number written in the message: kept only by a customer
    # who has no contact yet (they were asked for one when nobody could answer).
    offered_contact: str | None = None


@dataclass(frozen=True)
class Opened:
    """The message opened a chat; ``audience`` is who may take it (or the departments to
    pick from when it has none yet)."""

    chat: ChatView
    audience: Audience


@dataclass(frozen=True)
class Appended:
    """The message joined the customer's open chat. ``choices``: the departments to pick
    from while it has none (None once it has one); ``too_fast``: the customer passed the
    flood limit just now (they are told once per window); ``held``: the chat's card waits
    beyond the intake limits, so it has no thread yet (its lines follow the card)."""

    chat_id: int
    choices: Choices | None
    too_fast: bool
    held: bool = False
    saved_contact: str | None = None  # the contact this message gave, kept now


@dataclass(frozen=True)
class Picked:
    """The message names a department to choose; nothing was stored yet."""

    key: str


def named_department(word: str, choices: Choices) -> str | None:
    """The key of the department a customer's word names (a suggested action's value)."""
    wanted = word.strip().casefold()
    for key, name in choices:
        if wanted in (name.casefold(), key):
            return key
    return None


# A customer, their open chat (if any), how many messages it got within the flood window,
# how many departments there are (is there a choice?) and whether the chat's lane has
# anything waiting, in one statement built once: this runs for every customer message.
_RECENT = (
    select(func.count(Message.id))
    .where(
        Message.chat_id == Chat.id,
        Message.kind == MessageKind.INCOMING,
        Message.created_at > bindparam("p_since", type_=UTCDateTime()),
    )
    .correlate(Chat)
    .scalar_subquery()
)
_ROOMS = select(func.count(Department.id)).scalar_subquery()
# The chat's department's next-answer target (NULL: none), read with the chat: a line that
# begins a wait under it costs two statements more, every other line nothing.
_NEXT_TARGET = (
    select(Department.next_response_target)
    .where(Department.id == Chat.department_id)
    .correlate(Chat)
    .scalar_subquery()
)
_LANE_BUSY = (
    exists()
    .where(
        OutboxItem.lane == literal("chat:", String) + cast(Chat.id, String),
        OutboxItem.state == DeliveryState.PENDING,
    )
    .correlate(Chat)
)
_CUSTOMER_AND_OPEN_CHAT = (
    select(
        *Customer.__table__.c,
        Chat.id.label("chat_id"),
        Chat.department_id,
        Chat.state,
        Chat.slowed_until,
        Chat.held,
        Chat.first_reply_at,
        Chat.target_due_at,
        _NEXT_TARGET.label("next_target"),
        func.coalesce(_RECENT, 0).label("recent"),
        _ROOMS.label("rooms"),
        _LANE_BUSY.label("lane_busy"),
    )
    .outerjoin(Chat, and_(Chat.customer_id == Customer.id, Chat.state != ChatState.CLOSED))
    .where(
        Customer.channel_id == bindparam("p_channel"),
        Customer.user_id == bindparam("p_user"),
    )
)
_CUSTOMERS = Customer.__table__
_NEW_CUSTOMER = insert(_CUSTOMERS).returning(_CUSTOMERS.c.id)
# What of a customer a returning visit may change.
_VISIT = ("name", "locale", "reference", "conversation_key", "contact")


@dataclass(frozen=True)
class Writer:
    """The customer who wrote a message, as the intake keeps and counts them."""

    id: int
    channel_id: str
    name: str
    locale: str
    reference: dict[str, Any]
    conversation_key: str | None
    contact: str | None
    saved_contact: str | None = None  # the contact their message offered, kept now


async def stored_customer(tx: Unit, turn: CustomerTurn, known: Row[Any] | None) -> Writer:
    """The customer who wrote ``turn``: created, or brought up to date (how to reach them,
    their name and language change between visits)."""
    kept = turn.contact or (known.contact if known is not None else None)
    saved = turn.offered_contact if kept is None else None
    now = {
        "name": turn.name or (known.name if known is not None else turn.name),
        "locale": turn.locale,
        "reference": turn.reference,
        "conversation_key": turn.conversation_key,
        "contact": kept or saved,
    }
    if known is None:
        created = {"channel_id": turn.channel_id, "user_id": turn.user_id, "created_at": tx.now}
        customer_id = (await tx.execute(_NEW_CUSTOMER, {**created, **now})).scalar_one()
        await keep_given(tx, customer_id, now["contact"])
        return Writer(customer_id, turn.channel_id, **now, saved_contact=saved)
    if known.reference == turn.reference:
        # The conversation they write from changes only with how to reach them.
        now["conversation_key"] = known.conversation_key
    changed = {key: value for key, value in now.items() if getattr(known, key) != value}
    if changed:
        await tx.execute(update(_CUSTOMERS).where(_CUSTOMERS.c.id == known.id).values(**changed))
    if "contact" in changed:
        # Kept normalised too, with how it is known: the agents see one person by it.
        await keep_given(tx, known.id, now["contact"])
    return Writer(known.id, known.channel_id, **now, saved_contact=saved)


async def new_chat(
    tx: Unit, customer_id: int, department: Department | None, announce_at: datetime | None
) -> Chat:
    """A waiting chat; the open-chat unique index makes a concurrent second one fail."""
    chat = Chat(
        customer_id=customer_id,
        department_id=department.id if department else None,
        state=ChatState.WAITING,
        created_at=tx.now,
        announce_at=announce_at,
    )
    tx.session.add(chat)
    await tx.session.flush()
    if announce_at is not None:
        tx.timer(announce_at)
    if (
        department is not None
        and department.first_response_target
        and not firstbot.answers_first(tx, department)
    ):
        await targets.start_wait(
            tx, chat.id, department.id, department.first_response_target, tx.now
        )
    trace.CHAT_ID.set(chat.id)
    return chat


async def hold(tx: Unit, chat: Chat, customer: Writer) -> bool:
    """Hold a chat opened beyond the intake limits: its card is posted by the timer,
    the n-th chat over a limit one window later for every ``limit`` before it, so a
    flood reaches the room at the limit's pace and nothing is dropped.

    The limits count the chats opened within the window from the customer's
    conversation (whoever claims to write in it) and from their channel.
    """
    limits = tx.policy.intake_limits
    since = tx.now - limits.window
    # Two counts of the chats opened in the window, each its own subquery so that an
    # index serves it: the conversation's customers (by id and by conversation key) and
    # their chats by customer; the channel's from the recent chats (``created_at``),
    # each asked for its customer's channel. One OR of both in a single WHERE would walk
    # every chat of every customer of the channel.
    same_conversation = Customer.id == customer.id
    if customer.conversation_key is not None:
        same_conversation = or_(
            same_conversation, Customer.conversation_key == customer.conversation_key
        )
    conversation = (
        select(func.count(Chat.id))
        .where(
            Chat.customer_id.in_(select(Customer.id).where(same_conversation)),
            Chat.created_at > since,
            Chat.id != chat.id,
        )
        .scalar_subquery()
    )
    channel_of = (
        select(Customer.channel_id).where(Customer.id == Chat.customer_id).scalar_subquery()
    )
    channel = (
        select(func.count(Chat.id))
        .where(Chat.created_at > since, Chat.id != chat.id, channel_of == customer.channel_id)
        .scalar_subquery()
    )
    recent = select(conversation, channel)
    own, channel = (await tx.execute(recent)).one()
    waits = max(
        own // limits.per_conversation if limits.per_conversation > 0 else 0,
        channel // limits.per_channel if limits.per_channel > 0 else 0,
    )
    if waits == 0:
        return False
    chat.held = True
    chat.announce_at = tx.now + limits.window * waits
    tx.timer(chat.announce_at)
    return True


def keep_line(tx: Unit, chat_id: int, customer: Writer, turn: CustomerTurn) -> None:
    """The customer's words (and files) in the chat's transcript."""
    tx.note(
        chat_id,
        MessageKind.INCOMING,
        customer.name,
        turn.text,
        source_key=turn.source_key,
        attachments=list(turn.attachments),
    )


def _opened_view(
    chat: Chat, customer: Writer, department: Department | None, text: str
) -> ChatView:
    """The view of a chat just opened, from what the transaction has in hand (no queries)."""
    return view_of(
        chat,
        customer,
        department,
        owner_name=None,
        owner_teams_id=None,
        closed_by_teams_id=None,
        thread_id=None,
        accepted_at=None,
        closed_at=None,
        message_count=1,
        first_messages=(text,),
        customer_last_at=chat.created_at,  # the line that opened it, written now
    )


async def do_customer_message(
    tx: Unit,
    turn: CustomerTurn,
    dedupe_keys: Sequence[str],
    flood: FloodLimit,
    *,
    naming: str | None = None,
    preferred: str | None = None,
) -> Duplicate | Opened | Appended | Picked:
    """Store a customer's message; open a chat if they have none open.

    A customer writing faster than ``flood`` allows is told so once per window; their
    messages are still stored and passed on. While the chat has no department, or
    waits for an agent and there is a choice, ``naming`` (the text, when it is short
    enough to be a department's name) may choose one: then nothing is stored here and
    :class:`Picked` says which, for the department choice. ``preferred`` names the
    department chosen before writing (the website's pre-chat form); it counts only while
    the chat has none, so the question is never asked. An accepted chat (the usual
    case) never reads the departments.
    """
    known = (
        await tx.execute(
            _CUSTOMER_AND_OPEN_CHAT,
            {
                "p_channel": turn.channel_id,
                "p_user": turn.user_id,
                "p_since": tx.now - timedelta(seconds=flood.window),
            },
        )
    ).one_or_none()
    chat = known if known is not None and known.chat_id is not None else None
    recent, rooms = (known.recent, known.rooms) if known is not None else (0, 0)
    if chat is None:
        # A new chat goes straight to the department when there is only one.
        first = list(await tx.session.scalars(select(Department).limit(2)))
        rooms = len(first)
    unrouted = chat is None or chat.department_id is None
    choices: Choices | None = () if unrouted else None
    if rooms > 1 and (unrouted or (naming is not None and chat.state == ChatState.WAITING)):
        # Until an agent accepts, the customer may still (re)choose by name.
        listed, known_names = await department_choices(tx.session, turn.locale)
        key = named_department(naming, known_names) if naming is not None else None
        if key is None and unrouted and preferred is not None:
            key = named_department(preferred, known_names)
        if key is not None:
            return Picked(key)
        choices = listed if unrouted else None
    if not await tx.first_time(dedupe_keys):
        return Duplicate()
    customer = await stored_customer(tx, turn, known)
    if chat is None:
        # With several departments the customer picks one first; until then the chat
        # waits without one.
        department = first[0] if rooms == 1 else None
        announce_at = tx.now + tx.policy.unanswered_after if department else None
        opened = await new_chat(tx, customer.id, department, announce_at)
        to_bot = department is not None and await firstbot.do_start(tx, opened, department)
        if department is not None and not to_bot:
            await hold(tx, opened, customer)
        keep_line(tx, opened.id, customer, turn)
        await tx.session.flush()
        view = replace(_opened_view(opened, customer, department, turn.text), first_bot=to_bot)
        told = await audience(tx.session, opened.id, now=tx.now)
        # Several departments: offered as a customer of their language reads them.
        return Opened(view, replace(told, departments=choices) if choices else told)
    keep_line(tx, chat.chat_id, customer, turn)
    if chat.next_target and chat.first_reply_at is not None and chat.target_due_at is None:
        # They wrote after an agent's answer: the next answer's wait begins.
        await targets.start_wait(tx, chat.chat_id, chat.department_id, chat.next_target, tx.now)
    if not chat.lane_busy:
        tx.idle_lanes.add(chat_lane(chat.chat_id))
    slowed = chat.slowed_until is not None and chat.slowed_until > tx.now
    too_fast = recent + 1 > flood.messages and not slowed
    if too_fast:
        until = tx.now + timedelta(seconds=flood.window)
        await tx.execute(
            update(Chat.__table__).where(Chat.id == chat.chat_id).values(slowed_until=until)
        )
    return Appended(chat.chat_id, choices, too_fast, chat.held, customer.saved_contact)
