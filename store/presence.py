"""Availability that follows Teams presence (``PRESENCE_SYNC=graph``).

Each agent keeps the last presence Graph reported (``agents.graph_presence``). A poll
changes an agent's availability only when their presence changed since the last poll,
so what an agent typed (``@Bot away``) holds until Teams reports something new.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta

from sqlalchemy import and_, or_, select, update

from store.availability import set_agent_availability, waiting_for
from store.models import Agent, Availability, DepartmentMember, Setting
from store.unit import Unit
from store.views import ChatView, Person

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


@dataclass(frozen=True)
class PresenceFollowed:
    """``came_online``: each agent who came online, with the chats waiting for them."""

    changed: int  # agents whose availability followed a new presence
    came_online: tuple[tuple[Person, tuple[ChatView, ...]], ...] = ()


POLL_KEY = "presence_poll_due"  # in ``settings``: when the next poll is due (ISO, UTC)


async def claim_presence_poll(tx: Unit, every: timedelta) -> bool:
    """True for one replica per ``every``: the poll's due time is claimed by a
    conditional UPDATE, so replicas sharing a database ask Graph once, not each."""
    now = tx.now.astimezone(UTC)
    await tx.insert_ignore(Setting, {"key": POLL_KEY, "value": ""})
    result = await tx.session.execute(
        update(Setting)
        .where(Setting.key == POLL_KEY, Setting.value <= now.isoformat())
        .values(value=(now + every).isoformat())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def presence_ids(tx: Unit) -> list[str]:
    """The Azure AD ids of every department's members (whom Graph is asked about)."""
    ids = await tx.session.scalars(
        select(Agent.aad_object_id)
        .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
        .where(Agent.aad_object_id.is_not(None))
        .distinct()
    )
    return sorted(i for i in ids if i)


async def do_follow_presence(tx: Unit, seen: Mapping[str, str]) -> PresenceFollowed:
    """Apply the presences Graph reported (by AAD id) in one unit of work; an agent who
    comes online hears of the chats waiting in their departments' threads."""
    changed = 0
    came_online: list[tuple[Person, tuple[ChatView, ...]]] = []
    for aad_id, raw in sorted(seen.items()):
        availability = GRAPH_AVAILABILITY.get(raw)
        if availability is None:
            continue  # PresenceUnknown: keep what the agent has
        new = or_(Agent.graph_presence.is_(None), Agent.graph_presence != raw)
        which = and_(Agent.aad_object_id == aad_id, new)
        count, rising = await set_agent_availability(tx, which, availability, graph_presence=raw)
        changed += count
        if rising:
            agent = await tx.session.scalar(select(Agent).where(Agent.aad_object_id == aad_id))
            if agent is not None:
                waiting = await waiting_for(tx, agent.id, posted_only=True)
                person = Person(agent.teams_id, agent.name, agent.aad_object_id)
                came_online.append((person, tuple(waiting)))
    return PresenceFollowed(changed, tuple(came_online))
