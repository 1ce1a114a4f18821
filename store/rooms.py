"""Rooms and presence: binding a Teams channel to a department, naming its supervisor,
and the agents' availability."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from store.core import ChatView, Duplicate, Person, StoreCore
from store.models import (
    Availability,
    Chat,
    ChatState,
    Department,
    Supervisor,
)
from store.outbox import Outgoing


@dataclass(frozen=True)
class RoomReady:
    department: str
    created: bool


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
        team_id: str | None,
        channel_id: str,
        room_reference: dict[str, Any],
        dedupe_keys: Sequence[str],
        compose: Callable[[RoomReady, list[ChatView]], list[Outgoing]],
    ) -> RoomReady | Duplicate:
        """Bind a channel as a department's room and make ``person`` its supervisor.

        Chats that arrived while no room existed are posted to the new room.
        """
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
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
            agent = await self._agent(session, person)
            await self._insert_ignore(
                session,
                Supervisor,
                {"department_id": department.id, "agent_id": agent.id, "created_at": now},
            )
            unrouted = list(
                await session.scalars(
                    select(Chat.id).where(
                        Chat.department_id.is_(None), Chat.state != ChatState.CLOSED
                    )
                )
            )
            if unrouted:
                await session.execute(
                    update(Chat)
                    .where(Chat.id.in_(unrouted))
                    .values(department_id=department.id)
                    .execution_options(synchronize_session=False)
                )
            waiting_views = [await self._view(session, chat_id) for chat_id in unrouted]
            outcome = RoomReady(department=name, created=created)
            self._enqueue(session, compose(outcome, waiting_views), now)
            return outcome

    async def set_availability(
        self,
        person: Person,
        availability: Availability,
        dedupe_keys: Sequence[str],
        compose: Callable[[AvailabilityChanged], list[Outgoing]],
    ) -> AvailabilityChanged | Duplicate:
        """Record an agent's presence; routing reads it from here, never from memory."""
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            agent = await self._agent(session, person)
            outcome = AvailabilityChanged(previous=agent.availability, current=availability)
            agent.availability = availability
            agent.availability_at = now
            self._enqueue(session, compose(outcome), now)
            return outcome
