"""What the trust gate reads: the install's tenant, registered rooms, where a chat lives.

Every agent action is checked against these rows, never against what an activity
or a card says about itself: a card names a chat only by its public reference, and
the chat's department (hence its room) comes from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from store.models import Chat, Department, Setting
from store.unit import Unit

TENANT_KEY = "tenant"


@dataclass(frozen=True)
class RoomPlace:
    """A registered room: the department whose channel it is."""

    department_id: int
    key: str
    name: str
    team_id: str | None
    channel_id: str
    tenant_id: str | None  # as recorded from the setup's activity


@dataclass(frozen=True)
class ChatPlace:
    """Where a chat lives: its row id and its room's channel (None: no department yet)."""

    chat_id: int
    channel_id: str | None


@dataclass(frozen=True)
class Place:
    """What the gate needs for one agent action, read in one session."""

    tenant: str | None
    room: RoomPlace | None
    chat: ChatPlace | None = None


async def stored_tenant(session: AsyncSession) -> str | None:
    return await session.scalar(select(Setting.value).where(Setting.key == TENANT_KEY))


_TENANT = select(Setting.value).where(Setting.key == TENANT_KEY).scalar_subquery()
_CHAT = select(Chat.id, Chat.department_id).where(Chat.public_id == bindparam("p_ref")).subquery()
_CHAT_ROOM = aliased(Department)
# The install's tenant, the room of a channel and the chat a card names (with its room's
# channel), in one statement: every agent action runs it.
_PLACE = (
    select(_TENANT, Department, _CHAT.c.id, _CHAT_ROOM.channel_id)
    .select_from(select(literal(1).label("one")).subquery())
    .outerjoin(Department, Department.channel_id == bindparam("p_channel"))
    .outerjoin(_CHAT, literal(True))
    .outerjoin(_CHAT_ROOM, _CHAT_ROOM.id == _CHAT.c.department_id)
    .limit(1)
)


async def place_of(tx: Unit, channel_id: str, chat_ref: str | None = None) -> Place:
    """The tenant the install is bound to, the room registered for ``channel_id`` and,
    with ``chat_ref``, where the chat it names lives: one statement, since every agent
    action runs it (authorization happens again in each transition's WHERE)."""
    found = (
        await tx.session.execute(_PLACE, {"p_channel": channel_id, "p_ref": chat_ref or ""})
    ).one()
    tenant, department, chat_id, chat_channel = found
    room = (
        RoomPlace(
            department_id=department.id,
            key=department.key,
            name=department.name,
            team_id=department.team_id,
            channel_id=department.channel_id,
            tenant_id=(department.room_reference or {}).get("conversation", {}).get("tenantId"),
        )
        if department is not None
        else None
    )
    chat = ChatPlace(chat_id, chat_channel) if chat_id is not None else None
    return Place(tenant=tenant, room=room, chat=chat)
