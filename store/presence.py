"""Availability that follows Teams presence (``PRESENCE_SYNC=graph``).

Each agent keeps the last presence Graph reported (``agents.graph_presence``). A poll
changes an agent's availability only when their presence changed since the last poll,
so what an agent typed (``@Bot away``) holds until Teams reports something new.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.core import ChatView, Person, StoreCore
from store.models import Agent, Availability, Chat, ChatState, DepartmentMember, Setting
from store.outbox import Outgoing

# Graph's availability values and what they mean for routing: only Available is
# offered chats; Busy (a call, a meeting) and Away are not mentioned but may accept.
GRAPH_AVAILABILITY = {
    "Available": Availability.ONLINE,
    "AvailableIdle": Availability.ONLINE,
    "Busy": Availability.AWAY,
    "BusyIdle": Availability.AWAY,
    "DoNotDisturb": Availability.AWAY,
    "Away": Availability.AWAY,
    "BeRightBack": Availability.AWAY,
    "Offline": Availability.OFFLINE,
}

WaitingCompose = Callable[[Person, ChatView], list[Outgoing]]


@dataclass(frozen=True)
class PresenceFollowed:
    changed: int  # agents whose availability followed a new presence
    came_online: int


POLL_KEY = "presence_poll_due"  # in ``settings``: when the next poll is due (ISO, UTC)


class PresenceSync(StoreCore):
    async def claim_presence_poll(self, every: timedelta) -> bool:
        """True for one replica per ``every``: the poll's due time is claimed by a
        conditional UPDATE, so replicas sharing a database ask Graph once, not each."""
        now = self.clock().astimezone(UTC)
        async with self._write() as session:
            await self._insert_ignore(session, Setting, {"key": POLL_KEY, "value": ""})
            result = await session.execute(
                update(Setting)
                .where(Setting.key == POLL_KEY, Setting.value <= now.isoformat())
                .values(value=(now + every).isoformat())
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1

    async def presence_ids(self) -> list[str]:
        """The Azure AD ids of every department's members (whom Graph is asked about)."""
        async with self._sessions() as session:
            ids = await session.scalars(
                select(Agent.aad_object_id)
                .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
                .where(Agent.aad_object_id.is_not(None))
                .distinct()
            )
            return sorted(i for i in ids if i)

    async def follow_presence(
        self, seen: Mapping[str, str], on_waiting: WaitingCompose
    ) -> PresenceFollowed:
        """Apply the presences Graph reported (by AAD id) in one unit of work; an agent
        who comes online hears of the chats waiting in their departments."""
        changed = came_online = 0
        async with self._transaction() as session:
            now = self.clock()
            for aad_id, raw in sorted(seen.items()):
                availability = GRAPH_AVAILABILITY.get(raw)
                if availability is None:
                    continue  # PresenceUnknown: keep what the agent has
                new = or_(Agent.graph_presence.is_(None), Agent.graph_presence != raw)
                values = {
                    "graph_presence": raw,
                    "availability": availability,
                    "availability_at": now,
                }
                mine = Agent.aad_object_id == aad_id
                rising = 0
                if availability == Availability.ONLINE:
                    result = await session.execute(
                        update(Agent)
                        .where(mine, new, Agent.availability != Availability.ONLINE)
                        .values(**values)
                        .execution_options(synchronize_session=False)
                    )
                    rising = result.rowcount
                result = await session.execute(
                    update(Agent)
                    .where(mine, new)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                changed += rising + result.rowcount
                if rising:
                    came_online += 1
                    await self._tell_waiting(session, aad_id, on_waiting)
        return PresenceFollowed(changed, came_online)

    async def _tell_waiting(
        self, session: AsyncSession, aad_id: str, on_waiting: WaitingCompose
    ) -> None:
        agent = await session.scalar(select(Agent).where(Agent.aad_object_id == aad_id))
        if agent is None:
            return
        person = Person(agent.teams_id, agent.name, agent.aad_object_id)
        waiting = await session.scalars(
            select(Chat.id)
            .join(DepartmentMember, DepartmentMember.department_id == Chat.department_id)
            .where(DepartmentMember.agent_id == agent.id, Chat.state == ChatState.WAITING)
            .where(Chat.thread_id.is_not(None))
            .order_by(Chat.id)
        )
        for chat_id in list(waiting):
            view = await self._view(session, chat_id)
            self._enqueue(session, on_waiting(person, view), self.clock())
