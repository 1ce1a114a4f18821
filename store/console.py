"""What the supervisors' console reads and writes: sign-in links, live chats, history.

Every read takes the department's row id that the console already checked against
the signed-in supervisor's departments, so no query here can return another
department's chats.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select, update

from store.console_models import ConsoleLink
from store.core import Person, StoreCore
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
)
from store.outbox import Outgoing
from store.supervisors import RoomRefused


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


LinkCompose = Callable[[LinkIssued | RoomRefused], list[Outgoing]]


class Console(StoreCore):
    """Sign-in links and the console's department-scoped reads."""

    async def issue_console_link(
        self,
        channel_id: str,
        person: Person,
        ttl: timedelta,
        dedupe_keys: Sequence[str],
        compose: LinkCompose,
    ) -> LinkIssued | RoomRefused | None:
        """A single-use sign-in link for a supervisor of the room's department.

        The refusal and the link's message are queued in the same transaction, once
        per inbound activity (None: a re-delivery).
        """
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return None
            now = self.clock()
            department = await session.scalar(
                select(Department).where(Department.channel_id == channel_id)
            )
            outcome: LinkIssued | RoomRefused
            if department is None:
                outcome = RoomRefused("not_a_room")
            else:
                agent = await self._agent(session, person)
                supervises = await session.scalar(
                    select(Supervisor.id).where(
                        Supervisor.agent_id == agent.id,
                        Supervisor.department_id == department.id,
                    )
                )
                if supervises is None:
                    outcome = RoomRefused("supervisor_only")
                else:
                    token = secrets.token_urlsafe(32)
                    session.add(
                        ConsoleLink(
                            token_hash=token_digest(token),
                            agent_id=agent.id,
                            created_at=now,
                            expires_at=now + ttl,
                        )
                    )
                    outcome = LinkIssued(token, person, department.name)
            self._enqueue(session, compose(outcome), now)
            return outcome

    async def redeem_console_link(self, token: str) -> int | None:
        """Spend a sign-in link: the agent's id, or None (unknown, used or expired).

        One conditional UPDATE decides, so two tabs opening the link at once sign in once.
        """
        digest = token_digest(token)
        async with self._write() as session:
            now = self.clock()
            result = await session.execute(
                update(ConsoleLink)
                .where(
                    ConsoleLink.token_hash == digest,
                    ConsoleLink.used_at.is_(None),
                    ConsoleLink.expires_at > now,
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                return None
            return await session.scalar(
                select(ConsoleLink.agent_id).where(ConsoleLink.token_hash == digest)
            )

    async def console_user(self, agent_id: int) -> ConsoleUser | None:
        """The supervisor behind a session, with their departments as of now."""
        async with self._sessions() as session:
            agent = await session.get(Agent, agent_id)
            if agent is None:
                return None
            rows = await session.execute(
                select(Department.id, Department.key, Department.name)
                .join(Supervisor, Supervisor.department_id == Department.id)
                .where(Supervisor.agent_id == agent_id)
                .order_by(Department.name)
            )
            return ConsoleUser(agent.id, agent.name, tuple(ConsoleDepartment(*row) for row in rows))

    async def console_supervisors(self) -> list[tuple[int, str]]:
        """Every supervisor (id, name): the local-mode sign-in page lists them."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Agent.id, Agent.name)
                .where(exists().where(Supervisor.agent_id == Agent.id))
                .order_by(Agent.name)
            )
            return [(agent_id, name) for agent_id, name in rows]

    async def live_chats(self, department_id: int) -> list[LiveChat]:
        """The department's waiting and active chats, oldest first."""
        owner = Agent.__table__.alias("owner")
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(
                        Chat.id,
                        Chat.public_id,
                        Chat.state,
                        Customer.name,
                        Customer.channel_id,
                        Chat.created_at,
                        Chat.accepted_at,
                        owner.c.name,
                        Chat.thread_id,
                    )
                    .join(Customer, Customer.id == Chat.customer_id)
                    .outerjoin(owner, owner.c.id == Chat.owner_id)
                    .where(Chat.department_id == department_id, Chat.state != ChatState.CLOSED)
                    .order_by(Chat.id)
                    .limit(500)
                )
            ).all()
            people, tags = await chat_labels(session, [row[0] for row in rows])
        return [
            LiveChat(
                ref=row[1],
                state=row[2],
                customer=row[3],
                channel=row[4],
                created_at=row[5],
                accepted_at=row[6],
                owner=row[7],
                participants=tuple(people[row[0]]),
                tags=tuple(tags[row[0]]),
                thread_id=row[8],
            )
            for row in rows
        ]

    async def live_fingerprint(self, department_id: int) -> tuple[Any, ...]:
        """A cheap summary that changes whenever the live list would: polled by every
        replica's event streams instead of an in-process signal (replicas share no memory).
        Tags and participants count too, as the page shows them."""
        async with self._sessions() as session:
            open_chats = select(Chat.id).where(
                Chat.department_id == department_id, Chat.state != ChatState.CLOSED
            )
            row = (
                await session.execute(
                    select(
                        func.count(Chat.id),
                        func.coalesce(func.sum(Chat.version), 0),
                        func.coalesce(func.max(Chat.id), 0),
                    ).where(Chat.id.in_(open_chats))
                )
            ).one()
            seats = await session.scalar(
                select(func.count(Participant.id)).where(
                    Participant.chat_id.in_(open_chats), Participant.left_at.is_(None)
                )
            )
            labels = await session.scalar(
                select(func.count(ChatTag.id)).where(ChatTag.chat_id.in_(open_chats))
            )
        return (*row, seats, labels)

    async def department_chat(self, department_id: int, ref: str) -> int | None:
        """The row id of a chat of this department named by its reference, else None
        (another department's chat and an unknown one look the same)."""
        async with self._sessions() as session:
            return await session.scalar(
                select(Chat.id).where(Chat.public_id == ref, Chat.department_id == department_id)
            )

    async def room_department(self, channel_id: str) -> ConsoleDepartment | None:
        """The department whose room is this channel (``@Bot report`` reads its figures)."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Department.id, Department.key, Department.name).where(
                        Department.channel_id == channel_id
                    )
                )
            ).one_or_none()
        return ConsoleDepartment(*row) if row is not None else None
