"""Department settings a supervisor changes from the room: capacity and time zone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import and_, exists, select, update

from store.core import Duplicate, Person, StoreCore
from store.models import Department, Supervisor
from store.outbox import Outgoing
from store.routing import CapacitySet, NotARoom, NotSupervisor

T = TypeVar("T")


class DepartmentSettings(StoreCore):
    async def set_capacity(
        self,
        person: Person,
        channel_id: str,
        capacity: int | None,
        dedupe_keys: Sequence[str],
        *,
        on_set: Callable[[CapacitySet], list[Outgoing]],
        on_not_room: Callable[[], list[Outgoing]],
        on_refused: Callable[[], list[Outgoing]],
    ) -> Duplicate | CapacitySet | NotSupervisor | NotARoom:
        """A supervisor of the room's department sets how many chats an agent may own."""
        return await self._set_department(
            person,
            channel_id,
            {"capacity": capacity},
            dedupe_keys,
            on_set=lambda name: on_set(CapacitySet(name, capacity)),
            on_not_room=on_not_room,
            on_refused=on_refused,
            outcome=lambda name: CapacitySet(name, capacity),
        )

    async def set_time_zone(
        self,
        person: Person,
        channel_id: str,
        zone: str | None,
        dedupe_keys: Sequence[str],
        *,
        on_set: Callable[[str], list[Outgoing]],
        on_not_room: Callable[[], list[Outgoing]],
        on_refused: Callable[[], list[Outgoing]],
    ) -> Duplicate | str | NotSupervisor | NotARoom:
        """A supervisor gives the room's department a time zone of its own (None: the
        bridge's ``TIME_ZONE``); its transcripts show their times in it."""
        return await self._set_department(
            person,
            channel_id,
            {"time_zone": zone},
            dedupe_keys,
            on_set=on_set,
            on_not_room=on_not_room,
            on_refused=on_refused,
            outcome=lambda name: name,
        )

    async def _set_department(
        self,
        person: Person,
        channel_id: str,
        values: dict[str, Any],
        dedupe_keys: Sequence[str],
        *,
        on_set: Callable[[str], list[Outgoing]],
        on_not_room: Callable[[], list[Outgoing]],
        on_refused: Callable[[], list[Outgoing]],
        outcome: Callable[[str], T],
    ) -> Duplicate | T | NotSupervisor | NotARoom:
        """Change a setting of the room's department, by one of its supervisors only."""
        async with self._transaction() as session:
            if not await self._first_time(session, dedupe_keys):
                return Duplicate()
            now = self.clock()
            department = await session.scalar(
                select(Department).where(Department.channel_id == channel_id)
            )
            if department is None:
                self._enqueue(session, on_not_room(), now)
                return NotARoom()
            agent = await self._agent(session, person)
            result = await session.execute(
                update(Department)
                .where(
                    Department.id == department.id,
                    exists().where(
                        and_(
                            Supervisor.agent_id == agent.id,
                            Supervisor.department_id == Department.id,
                        )
                    ),
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                self._enqueue(session, on_refused(), now)
                return NotSupervisor()
            self._enqueue(session, on_set(department.name), now)
            return outcome(department.name)
