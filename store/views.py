"""The chat as cards and notices see it: one read of everything they show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from store import trace
from store.console_models import Rating
from store.matches import Linked, grouped, matched_pairs
from store.models import (
    Agent,
    Chat,
    ChatState,
    ChatTag,
    Customer,
    Department,
    Message,
    MessageKind,
    Participant,
    ParticipantRole,
    Supervisor,
    Tag,
)

# A chat's owner, as the history and the room's lists name them.
OWNER = Agent.__table__.alias("owner")


def chats_with_people(*columns: Any) -> Select[Any]:
    """``columns`` of chats joined with their customer and, where it has one, their
    owner (``OWNER``): the rows the history and the room's lists show."""
    return (
        select(*columns)
        .join(Customer, Customer.id == Chat.customer_id)
        .outerjoin(OWNER, OWNER.c.id == Chat.owner_id)
    )


@dataclass(frozen=True)
class Person:
    """A Teams user as an activity names them."""

    teams_id: str
    name: str
    aad_object_id: str | None = None


@dataclass(frozen=True)
class Member:
    """A current participant of a chat and their role in it."""

    person: Person
    role: ParticipantRole


@dataclass(frozen=True)
class ChatView:
    """What cards and notices need to know about a chat, read inside the transaction."""

    id: int
    ref: str  # the chat's public reference: what cards and links carry
    state: ChatState
    department: str
    customer_name: str
    customer_channel: str
    customer_locale: str
    customer_reference: dict[str, Any]
    owner_name: str | None
    owner_teams_id: str | None
    closed_by_teams_id: str | None
    thread_id: str | None
    room_reference: dict[str, Any] | None
    created_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    message_count: int
    first_messages: tuple[str, ...]
    participants: tuple[Member, ...] = ()
    tags: tuple[str, ...] = ()
    department_tags: tuple[str, ...] = ()
    # The customer's closed chats before this one (id, public reference), newest first.
    earlier_chats: tuple[tuple[int, str], ...] = ()
    earlier_owner: str | None = None  # who had the newest of them
    customer_contact: str | None = None  # e-mail or phone from the website's pre-chat form
    # Beyond the new-chat limits: its card is posted later (True on the release too).
    held: bool = False
    # The customer's rating of a closed chat (score 1-5, comment), once given.
    rating: tuple[int, str | None] | None = None
    # Teams ids of the department's supervisors: they get a card view of their own.
    supervisors: tuple[str, ...] = ()
    time_zone: str | None = None  # the department's own, if it has one
    # When the customer last wrote (the start of their channel's reply window).
    customer_last_at: datetime | None = None
    # The department's name per customer language, where it has some (``Department.names``).
    department_names: dict[str, str] | None = None
    customer_id: int | None = None  # for the short name an anonymous customer is shown by
    # The same person on other channels (a matching e-mail or phone), with their chats.
    linked: tuple[Linked, ...] = ()
    # What the company's bot knew when it handed the chat over (``store/firstbot.py``).
    bot_context: dict[str, Any] | None = None
    # Just opened for the company's bot to answer first (no card yet; the bot greets).
    first_bot: bool = False


_owner = aliased(Agent)
_closer = aliased(Agent)
_MESSAGES = (
    select(func.count(Message.id))
    .where(
        Message.chat_id == Chat.id,
        Message.kind.in_([MessageKind.INCOMING, MessageKind.OUTGOING]),
    )
    .correlate(Chat)
    .scalar_subquery()
)
# When the customer last wrote in the chat: where the channel has a reply window, the card
# shows until when an answer can still reach them.
_LAST_INBOUND = (
    select(func.max(Message.created_at))
    .where(Message.chat_id == Chat.id, Message.kind == MessageKind.INCOMING)
    .correlate(Chat)
    .scalar_subquery()
)
# The chat with its customer, department, owner, closer, rating, message count and the
# customer's last line.
_ROW = (
    select(
        Chat,
        Customer,
        Department,
        _owner,
        _closer,
        Rating.score,
        Rating.comment,
        _MESSAGES,
        _LAST_INBOUND,
    )
    .join(Customer, Customer.id == Chat.customer_id)
    .outerjoin(Department, Department.id == Chat.department_id)
    .outerjoin(_owner, _owner.id == Chat.owner_id)
    .outerjoin(_closer, _closer.id == Chat.closed_by_id)
    .outerjoin(Rating, Rating.chat_id == Chat.id)
    .where(Chat.id == bindparam("p_chat"))
    .execution_options(populate_existing=True)
)


def listed(kind: str, order: Any, *values: Any) -> Any:
    """One branch of a UNION of lists: (kind, order, four texts), as views and audiences read."""
    texts = [cast(v, String) for v in values] + [null()] * (4 - len(values))
    return select(literal(kind, String).label("kind"), cast(order, Integer).label("n"), *texts)


def linked_chats(chat: Any, customer: Any) -> Any:
    """One branch of a view's lists: the chats before ``chat`` of the customers matched to
    ``customer`` by a contact (one row per matching contact; ``matches.grouped`` reads
    them): chat id; reference, channel, contact kind, and "ours:theirs" trust."""
    mine, theirs, condition = matched_pairs(customer)
    other = aliased(Customer)
    trust = cast(mine.trust, String) + literal(":", String) + cast(theirs.trust, String)
    return (
        listed("linked", Chat.id, Chat.public_id, other.channel_id, mine.kind, trust)
        .select_from(mine)
        .join(theirs, condition)
        .join(Chat, Chat.customer_id == theirs.customer_id)
        .join(other, other.id == theirs.customer_id)
        .where(Chat.id < chat)
    )


def _lists_statement() -> Any:
    """Every list a view shows, in one statement: the first customer lines, the current
    participants, the chat's tags, the department's tags and supervisors, and the
    customer's earlier closed chats (rows told apart by ``kind``)."""
    chat = bindparam("p_chat")
    department = bindparam("p_department")
    first = (
        select(Message.id, Message.text)
        .where(Message.chat_id == chat, Message.kind == MessageKind.INCOMING)
        .order_by(Message.id)
        .limit(3)
        .subquery()
    )
    earlier_owner = aliased(Agent)
    return union_all(
        listed("first", first.c.id, first.c.text).select_from(first),
        listed(
            "member",
            Participant.id,
            Agent.teams_id,
            Agent.name,
            Agent.aad_object_id,
            Participant.role,
        )
        .join(Agent, Agent.id == Participant.agent_id)
        .where(Participant.chat_id == chat, Participant.left_at.is_(None)),
        listed("tag", 0, Tag.name)
        .join(ChatTag, ChatTag.tag_id == Tag.id)
        .where(ChatTag.chat_id == chat),
        listed("department_tag", 0, Tag.name).where(Tag.department_id == department),
        listed("supervisor", Supervisor.id, Agent.teams_id)
        .join(Agent, Agent.id == Supervisor.agent_id)
        .where(Supervisor.department_id == department),
        listed("earlier", Chat.id, Chat.public_id, earlier_owner.name)
        .outerjoin(earlier_owner, earlier_owner.id == Chat.owner_id)
        .where(
            Chat.customer_id == bindparam("p_customer"),
            Chat.state == ChatState.CLOSED,
            Chat.id < chat,
        ),
        linked_chats(chat, bindparam("p_customer")),
    )


_LISTS = _lists_statement()


def view_of(chat: Chat, customer: Any, department: Department | None, **rest: Any) -> ChatView:
    """A chat's view: what it takes from the chat's row, its customer (a row, or the
    intake's ``Writer``) and its department; ``rest`` are the fields read elsewhere."""
    return ChatView(
        id=chat.id,
        ref=chat.public_id,
        state=chat.state,
        department=department.name if department else "",
        customer_name=customer.name,
        customer_channel=customer.channel_id,
        customer_locale=customer.locale,
        customer_reference=customer.reference,
        room_reference=department.room_reference if department else None,
        created_at=chat.created_at,
        held=chat.held,
        customer_contact=customer.contact,
        department_names=department.names if department else None,
        customer_id=customer.id,
        **rest,
    )


async def chat_view(session: AsyncSession, chat_id: int) -> ChatView:
    """Everything cards and notices show about a chat, read in two statements inside the
    transaction (a card is drawn for nearly every change, so this is on every path)."""
    trace.CHAT_ID.set(chat_id)  # the turn's log lines name the chat from here on
    found = (await session.execute(_ROW, {"p_chat": chat_id})).one()
    chat, customer, department, owner, closer, score, comment, count, last_inbound = found
    rows = (
        await session.execute(
            _LISTS,
            {"p_chat": chat_id, "p_department": chat.department_id, "p_customer": customer.id},
        )
    ).all()
    lists: dict[str, list[Any]] = {}
    for row in sorted(rows, key=lambda r: (r[0], r[1], r[2] or "")):
        lists.setdefault(row[0], []).append(row)
    earlier = sorted(lists.get("earlier", []), key=lambda r: -r[1])
    return view_of(
        chat,
        customer,
        department,
        owner_name=owner.name if owner else None,
        owner_teams_id=owner.teams_id if owner else None,
        closed_by_teams_id=closer.teams_id if closer else None,
        thread_id=chat.thread_id,
        accepted_at=chat.accepted_at,
        closed_at=chat.closed_at,
        message_count=count or 0,
        first_messages=tuple(row[2] for row in lists.get("first", [])),
        participants=tuple(
            Member(Person(row[2], row[3], row[4]), ParticipantRole(row[5]))
            for row in lists.get("member", [])
        ),
        tags=tuple(row[2] for row in lists.get("tag", [])),
        department_tags=tuple(row[2] for row in lists.get("department_tag", [])),
        earlier_chats=tuple((row[1], row[2]) for row in earlier),
        earlier_owner=earlier[0][3] if earlier else None,
        rating=(score, comment) if score is not None and chat.state == ChatState.CLOSED else None,
        supervisors=tuple(row[2] for row in lists.get("supervisor", [])),
        time_zone=department.time_zone if department else None,
        customer_last_at=last_inbound,
        linked=grouped(lists.get("linked", [])),
        bot_context=chat.bot_context,
    )
