"""Rooms: binding a Teams channel to a department and naming its supervisor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select, update

from store import people
from store.audience import add_member
from store.models import Agent, Chat, ChatState, Department, Setting, Supervisor
from store.trust import TENANT_KEY, stored_tenant
from store.unit import Unit
from store.views import ChatView, Person, chat_view
from store.vocabulary import Refusal, Refused

# The first setup of an install claims this row: one winner, also across replicas.
FIRST_SETUP_KEY = "first_setup"


@dataclass(frozen=True)
class RoomReady:
    """``waiting``: chats that came while no room existed, posted to this one now."""

    department: str
    created: bool
    waiting: tuple[ChatView, ...] = ()


@dataclass(frozen=True)
class RoomSetup:
    """What ``@Bot setup`` asks for: department ``key`` and ``name`` in this channel.
    ``bind_tenant``: the first setup binds its own tenant (no tenants are configured)."""

    key: str
    name: str
    tenant_id: str
    bind_tenant: bool
    team_id: str | None
    channel_id: str
    room_reference: dict[str, Any]


async def do_setup_room(tx: Unit, person: Person, room: RoomSetup) -> RoomReady | Refused:
    """Bind a channel as a department's room and make ``person`` its supervisor.

    The first setup of an install binds the tenant and the first room (whoever inserts
    the claim row first, across replicas); a setup in another tenant is refused
    (``FOREIGN_TENANT``). After that, rebinding a department takes one of its
    supervisors and adding a department a supervisor of any (``NOT_SUPERVISOR``); a
    channel is the room of one department only (``CHANNEL_TAKEN``, naming it). Chats
    that arrived while no room existed are posted to the new room (``RoomReady.waiting``).
    """
    session = tx.session
    if room.bind_tenant and await _bound_tenant(tx, room.tenant_id) != room.tenant_id:
        return Refused(Refusal.FOREIGN_TENANT)
    agent = await people.agent(tx, person)
    refused = await _setup_refusal(tx, agent, room.key, room.channel_id)
    if refused is not None:
        return refused
    created = await tx.insert_ignore(
        Department,
        {
            "key": room.key,
            "name": room.name,
            "team_id": room.team_id,
            "channel_id": room.channel_id,
            "room_reference": room.room_reference,
            "created_at": tx.now,
        },
    )
    department = await session.scalar(select(Department).where(Department.key == room.key))
    assert department is not None
    department.channel_id = room.channel_id
    department.team_id = room.team_id
    department.room_reference = room.room_reference
    await tx.insert_ignore(
        Supervisor, {"department_id": department.id, "agent_id": agent.id, "created_at": tx.now}
    )
    await add_member(session, department.id, agent.id, tx.now)
    # Chats that came while no room existed go to the first one; once there are several
    # departments, a chat without one waits for its customer's choice.
    only_one = await session.scalar(select(func.count(Department.id))) == 1
    unrouted = (
        list(
            await session.scalars(
                select(Chat.id).where(Chat.department_id.is_(None), Chat.state != ChatState.CLOSED)
            )
        )
        if only_one
        else []
    )
    if unrouted:
        tx.timer(tx.now + tx.policy.unanswered_after)
        await session.execute(
            update(Chat)
            .where(Chat.id.in_(unrouted))
            .values(department_id=department.id, announce_at=tx.now + tx.policy.unanswered_after)
            .execution_options(synchronize_session=False)
        )
    waiting = tuple([await chat_view(session, chat_id) for chat_id in unrouted])
    return RoomReady(department=room.name, created=created, waiting=waiting)


async def _bound_tenant(tx: Unit, tenant_id: str) -> str | None:
    """The tenant the install belongs to, claimed by this setup if none is yet.

    An install older than the claim row has rooms already: their tenant is the claim.
    """
    tenant = await stored_tenant(tx.session)
    if tenant is None:
        oldest = await tx.session.scalar(
            select(Department.room_reference).order_by(Department.id).limit(1)
        )
        claim = str((oldest or {}).get("conversation", {}).get("tenantId") or tenant_id)
        await tx.insert_ignore(Setting, {"key": TENANT_KEY, "value": claim})
        tenant = await stored_tenant(tx.session)
    return tenant


async def _setup_refusal(tx: Unit, agent: Agent, key: str, channel_id: str) -> Refused | None:
    """Why ``agent`` may not bind ``channel_id`` to department ``key`` (None: they may)."""
    session = tx.session
    other = await session.scalar(
        select(Department.name).where(Department.channel_id == channel_id, Department.key != key)
    )
    if other is not None:
        return Refused(Refusal.CHANNEL_TAKEN, department=other)
    any_room = await session.scalar(select(exists(select(Department.id))))
    first = await tx.insert_ignore(Setting, {"key": FIRST_SETUP_KEY, "value": str(agent.id)})
    if first and not any_room:
        return None
    supervises = select(Supervisor.id).where(Supervisor.agent_id == agent.id)
    existing = await session.scalar(select(Department.id).where(Department.key == key))
    if existing is not None:
        supervises = supervises.where(Supervisor.department_id == existing)
    if not await session.scalar(select(exists(supervises))):
        return Refused(Refusal.NOT_SUPERVISOR)
    return None
