"""What the supervisors' console reads and writes: sign-in links, live chats, history.

Every read takes the department's row id that the console already checked against
the signed-in supervisor's departments, so no query here can return another
department's chats.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, func, insert, literal, select, update

from store.console_models import ConsoleLink
from store.departments import check_room
from store.models import (
    Agent,
    Chat,
    ChatState,
    ChatTag,
    Customer,
    Department,
    Participant,
    Supervisor,
    Tag,
    UTCDateTime,
)
from store.unit import Unit
from store.views import OWNER, Person, chats_with_people
from store.vocabulary import Refusal, Refused


def token_digest(token: str) -> str:
    """What the database keeps of a sign-in token (a reader of it cannot sign in)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class LinkIssued:
    """A one-time sign-in link was made for ``person``; ``token`` goes into the link only."""

    token: str
    person: Person
    department: str


@dataclass(frozen=True)
class ConsoleDepartment:
    id: int
    key: str
    name: str


@dataclass(frozen=True)
class ConsoleUser:
    """A signed-in supervisor and the departments they may see (nothing else)."""

    agent_id: int
    name: str
    departments: tuple[ConsoleDepartment, ...]


@dataclass(frozen=True)
class LiveChat:
    ref: str
    state: ChatState
    customer: str
    channel: str
    created_at: datetime
    accepted_at: datetime | None
    owner: str | None
    participants: tuple[str, ...]
    tags: tuple[str, ...]
    thread_id: str | None
    # Its customer's wait against the department's response target: ``ok``, ``near`` (the
    # owner was reminded), ``breached``; None: no target runs.
    target: str | None = None


def target_state(
    now: datetime, due: datetime | None, remind: datetime | None, breach: datetime | None
) -> str | None:
    """Where a wait stands against its target; a fired timer (cleared) counts as reached,
    so the page agrees with the reminder and the breach message that were sent."""
    if due is None:
        return None
    if breach is None or now >= due:
        return "breached"
    if remind is None or now >= remind:
        return "near"
    return "ok"


async def chat_labels(
    session: Any, chat_ids: list[int]
) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Current participants' names and tags per chat, two queries for the whole page."""
    people: dict[int, list[str]] = {chat_id: [] for chat_id in chat_ids}
    tags: dict[int, list[str]] = {chat_id: [] for chat_id in chat_ids}
    if not chat_ids:
        return people, tags
    for chat_id, name in await session.execute(
        select(Participant.chat_id, Agent.name)
        .join(Agent, Agent.id == Participant.agent_id)
        .where(Participant.chat_id.in_(chat_ids), Participant.left_at.is_(None))
        .order_by(Participant.id)
    ):
        people[chat_id].append(name)
    for chat_id, name in await session.execute(
        select(ChatTag.chat_id, Tag.name)
        .join(Tag, Tag.id == ChatTag.tag_id)
        .where(ChatTag.chat_id.in_(chat_ids))
        .order_by(Tag.name)
    ):
        tags[chat_id].append(name)
    return people, tags


async def do_issue_console_link(
    tx: Unit, channel_id: str, person: Person, ttl: timedelta
) -> LinkIssued | Refused:
    """A single-use sign-in link for a supervisor of the room's department."""
    found = await check_room(tx, person, channel_id)
    if isinstance(found, Refused):
        return found
    room, agent = found
    token = secrets.token_urlsafe(32)
    # Only a supervisor of the room's department gets a link: the row is written only
    # while they are one, as the INSERT runs.
    supervises = select(
        literal(token_digest(token)),
        literal(agent.id),
        literal(tx.now, UTCDateTime()),
        literal(tx.now + ttl, UTCDateTime()),
    ).where(
        exists().where(
            Supervisor.agent_id == agent.id,
            Supervisor.department_id == Department.id,
            Department.channel_id == channel_id,
        )
    )
    result = await tx.session.execute(
        insert(ConsoleLink).from_select(
            ["token_hash", "agent_id", "created_at", "expires_at"], supervises
        )
    )
    if result.rowcount != 1:
        return Refused(Refusal.SUPERVISOR_ONLY)
    return LinkIssued(token, person, room.name)


async def redeem_console_link(tx: Unit, token: str) -> int | None:
    """Spend a sign-in link: the agent's id, or None (unknown, used or expired).

    One conditional UPDATE decides, so two tabs opening the link at once sign in once.
    """
    digest = token_digest(token)
    result = await tx.session.execute(
        update(ConsoleLink)
        .where(
            ConsoleLink.token_hash == digest,
            ConsoleLink.used_at.is_(None),
            ConsoleLink.expires_at > tx.now,
        )
        .values(used_at=tx.now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return await tx.session.scalar(
        select(ConsoleLink.agent_id).where(ConsoleLink.token_hash == digest)
    )


async def console_user(tx: Unit, agent_id: int) -> ConsoleUser | None:
    """The supervisor behind a session, with their departments as of now."""
    agent = await tx.session.get(Agent, agent_id)
    if agent is None:
        return None
    rows = await tx.session.execute(
        select(Department.id, Department.key, Department.name)
        .join(Supervisor, Supervisor.department_id == Department.id)
        .where(Supervisor.agent_id == agent_id)
        .order_by(Department.name)
    )
    return ConsoleUser(agent.id, agent.name, tuple(ConsoleDepartment(*row) for row in rows))


async def console_supervisors(tx: Unit) -> list[tuple[int, str]]:
    """Every supervisor (id, name): the local-mode sign-in page lists them."""
    rows = await tx.session.execute(
        select(Agent.id, Agent.name)
        .where(exists().where(Supervisor.agent_id == Agent.id))
        .order_by(Agent.name)
    )
    return [(agent_id, name) for agent_id, name in rows]


async def live_chats(tx: Unit, department_id: int) -> list[LiveChat]:
    """The department's waiting and active chats, oldest first."""
    rows = (
        await tx.session.execute(
            chats_with_people(
                Chat.id,
                Chat.public_id,
                Chat.state,
                Customer.name,
                Customer.channel_id,
                Chat.created_at,
                Chat.accepted_at,
                OWNER.c.name,
                Chat.thread_id,
                Chat.target_due_at,
                Chat.target_remind_at,
                Chat.target_breach_at,
            )
            .where(Chat.department_id == department_id, Chat.state != ChatState.CLOSED)
            .order_by(Chat.id)
            .limit(500)
        )
    ).all()
    names, tags = await chat_labels(tx.session, [row[0] for row in rows])
    return [
        LiveChat(
            ref=row[1],
            state=row[2],
            customer=row[3],
            channel=row[4],
            created_at=row[5],
            accepted_at=row[6],
            owner=row[7],
            participants=tuple(names[row[0]]),
            tags=tuple(tags[row[0]]),
            thread_id=row[8],
            target=target_state(tx.now, row[9], row[10], row[11]),
        )
        for row in rows
    ]


async def live_fingerprint(tx: Unit, department_id: int) -> tuple[Any, ...]:
    """A cheap summary that changes whenever the live list would: polled by every
    replica's event streams instead of an in-process signal (replicas share no memory).

    The page shows which chats are open, who is in them and their tags: the count and
    the sum of the ids of each (chats, seated agents, tags) change with any of them.
    Row ids of seats and tags would not do: SQLite gives a deleted row's id again.
    """
    open_chats = select(Chat.id).where(
        Chat.department_id == department_id, Chat.state != ChatState.CLOSED
    )
    shown: tuple[tuple[Any, ColumnElement[bool]], ...] = (
        (Chat.id, Chat.id.in_(open_chats)),
        (Participant.agent_id, Participant.chat_id.in_(open_chats) & Participant.left_at.is_(None)),
        (ChatTag.tag_id, ChatTag.chat_id.in_(open_chats)),
        # A reminder or a breach fired (its timer cleared): the wait's colour changes.
        (Chat.id, Chat.id.in_(open_chats) & Chat.target_remind_at.is_not(None)),
        (Chat.id, Chat.id.in_(open_chats) & Chat.target_breach_at.is_not(None)),
    )
    tallies = [
        select(tally).where(where).scalar_subquery()
        for column, where in shown
        for tally in (func.count(column), func.coalesce(func.sum(column), 0))
    ]
    return tuple((await tx.session.execute(select(*tallies))).one())


async def department_chat(tx: Unit, department_id: int, ref: str) -> int | None:
    """The row id of a chat of this department named by its reference, else None
    (another department's chat and an unknown one look the same)."""
    return await tx.session.scalar(
        select(Chat.id).where(Chat.public_id == ref, Chat.department_id == department_id)
    )


async def room_department(tx: Unit, channel_id: str) -> ConsoleDepartment | None:
    """The department whose room is this channel (``@Bot report`` reads its figures)."""
    row = (
        await tx.session.execute(
            select(Department.id, Department.key, Department.name).where(
                Department.channel_id == channel_id
            )
        )
    ).one_or_none()
    return ConsoleDepartment(*row) if row is not None else None
