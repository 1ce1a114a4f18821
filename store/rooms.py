"""Rooms and presence: binding a Teams channel to a department, naming its supervisor,
and the agents' availability."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.audience import Audience, add_member, audience
from store.core import ChatView, Duplicate, Person, StoreCore
from store.models import (
    Agent,
    Availability,
    Chat,
    ChatState,
    Department,
    DepartmentMember,
    Setting,
    Supervisor,
)
from store.outbox import Outgoing
from store.trust import TENANT_KEY, stored_tenant

# The first setup of an install claims this row: one winner, also across replicas.
FIRST_SETUP_KEY = "first_setup"


@dataclass(frozen=True)
class RoomReady:
    department: str
    created: bool


@dataclass(frozen=True)
class SetupRefused:
    """``foreign_tenant``: another tenant owns the install; ``not_supervisor``: rebinding or
    adding a department takes a supervisor; ``channel_taken``: the channel is another
    department's room already (``department`` names it)."""

    reason: str
    department: str = ""


@dataclass(frozen=True)
class AvailabilityChanged:
    previous: Availability
    current: Availability


class Rooms(StoreCore):
    """Departments and their rooms."""

    async def setup_room(
        self,
        person: Person,
        *,
        key: str,
        name: str,
        tenant_id: str,
        bind_tenant: bool,
        team_id: str | None,
        channel_id: str,
        room_reference: dict[str, Any],
        dedupe_keys: Sequence[str],
        compose: Callable[[RoomReady, list[ChatView]], list[Outgoing]],
    ) -> RoomReady | SetupRefused | Duplicate:
        """Bind a channel as a department's room and make ``person`` its supervisor.

        The first setup of an install binds the tenant (``bind_tenant``: unless the
        configuration names the allowed tenants) and the first room (whoever inserts
        the claim row first, across replicas). After that, rebinding a
        department takes one of its supervisors and adding a department a supervisor
        of any; a channel is the room of one department only. Chats that arrived while
        no room existed are posted to the new room.
        """
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            if bind_tenant and await self._bound_tenant(session, tenant_id) != tenant_id:
                return SetupRefused("foreign_tenant")
            agent = await self._agent(session, person)
            refused = await self._setup_refusal(session, agent, key, channel_id)
            if refused is not None:
                return refused
            created = await self._insert_ignore(
                session,
                Department,
                {
                    "key": key,
                    "name": name,
                    "team_id": team_id,
                    "channel_id": channel_id,
                    "room_reference": room_reference,
                    "created_at": now,
                },
            )
            department = await session.scalar(select(Department).where(Department.key == key))
            assert department is not None
            department.channel_id = channel_id
            department.team_id = team_id
            department.room_reference = room_reference
            await self._insert_ignore(
                session,
                Supervisor,
                {"department_id": department.id, "agent_id": agent.id, "created_at": now},
            )
            await add_member(session, department.id, agent.id, now)
            # Chats that came while no room existed go to the first one; once there are
            # several departments, a chat without one waits for its customer's choice.
            only_one = await session.scalar(select(func.count(Department.id))) == 1
            unrouted = (
                list(
                    await session.scalars(
                        select(Chat.id).where(
                            Chat.department_id.is_(None), Chat.state != ChatState.CLOSED
                        )
                    )
                )
                if only_one
                else []
            )
            if unrouted:
                await session.execute(
                    update(Chat)
                    .where(Chat.id.in_(unrouted))
                    .values(
                        department_id=department.id, announce_at=now + self.policy.unanswered_after
                    )
                    .execution_options(synchronize_session=False)
                )
            waiting_views = [await self._view(session, chat_id) for chat_id in unrouted]
            outcome = RoomReady(department=name, created=created)
            self._enqueue(session, compose(outcome, waiting_views), now)
            return outcome

    async def _bound_tenant(self, session: AsyncSession, tenant_id: str) -> str | None:
        """The tenant the install belongs to, claimed by this setup if none is yet.

        An install older than the claim row has rooms already: their tenant is the claim.
        """
        tenant = await stored_tenant(session)
        if tenant is None:
            oldest = await session.scalar(
                select(Department.room_reference).order_by(Department.id).limit(1)
            )
            claim = str((oldest or {}).get("conversation", {}).get("tenantId") or tenant_id)
            await self._insert_ignore(session, Setting, {"key": TENANT_KEY, "value": claim})
            tenant = await stored_tenant(session)
        return tenant

    async def _setup_refusal(
        self, session: AsyncSession, agent: Agent, key: str, channel_id: str
    ) -> SetupRefused | None:
        """Why ``agent`` may not bind ``channel_id`` to department ``key`` (None: they may)."""
        other = await session.scalar(
            select(Department.name).where(
                Department.channel_id == channel_id, Department.key != key
            )
        )
        if other is not None:
            return SetupRefused("channel_taken", other)
        any_room = await session.scalar(select(exists(select(Department.id))))
        first = await self._insert_ignore(
            session, Setting, {"key": FIRST_SETUP_KEY, "value": str(agent.id)}
        )
        if first and not any_room:
            return None
        supervises = select(Supervisor.id).where(Supervisor.agent_id == agent.id)
        existing = await session.scalar(select(Department.id).where(Department.key == key))
        if existing is not None:
            supervises = supervises.where(Supervisor.department_id == existing)
        if not await session.scalar(select(exists(supervises))):
            return SetupRefused("not_supervisor")
        return None

    async def set_availability(
        self,
        person: Person,
        availability: Availability,
        dedupe_keys: Sequence[str],
        compose: Callable[[AvailabilityChanged], list[Outgoing]],
        *,
        channel_id: str | None = None,
        on_waiting: Callable[[ChatView, Audience], list[Outgoing]] | None = None,
    ) -> AvailabilityChanged | Duplicate:
        """Record an agent's presence; routing reads it from here, never from memory.

        Said in a room (``channel_id``), it also makes the agent a member of that
        department. An agent coming online is told, in each thread, of the chats still
        waiting in their departments (``on_waiting``), so nobody has to look for them.
        """
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            agent = await self._agent(session, person)
            outcome = AvailabilityChanged(previous=agent.availability, current=availability)
            agent.availability = availability
            agent.availability_at = now
            if channel_id is not None:
                department_id = await session.scalar(
                    select(Department.id).where(Department.channel_id == channel_id)
                )
                if department_id is not None:
                    await add_member(session, department_id, agent.id, now)
            self._enqueue(session, compose(outcome), now)
            coming_online = (
                availability == Availability.ONLINE and outcome.previous != Availability.ONLINE
            )
            if on_waiting is not None and coming_online:
                await session.flush()
                waiting = await session.scalars(
                    select(Chat.id)
                    .join(DepartmentMember, DepartmentMember.department_id == Chat.department_id)
                    .where(DepartmentMember.agent_id == agent.id, Chat.state == ChatState.WAITING)
                    .order_by(Chat.id)
                )
                for chat_id in list(waiting):
                    view = await self._view(session, chat_id)
                    self._enqueue(session, on_waiting(view, await audience(session, chat_id)), now)
            return outcome
