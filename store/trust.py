"""What the trust gate reads: the install's tenant, registered rooms, where a chat lives.

Every agent action is checked against these rows, never against what an activity
or a card says about itself: a card names a chat only by its public reference, and
the chat's department (hence its room) comes from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.core import StoreCore
from store.models import Chat, Department, Setting

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
    """Where a chat lives: its row id and its department's room (None: no department yet)."""

    chat_id: int
    channel_id: str | None
    team_id: str | None


@dataclass(frozen=True)
class Place:
    """What the gate needs for one agent action, read in one session."""

    tenant: str | None
    room: RoomPlace | None


async def stored_tenant(session: AsyncSession) -> str | None:
    return await session.scalar(select(Setting.value).where(Setting.key == TENANT_KEY))


class Trust(StoreCore):
    """Reads for the trust gate (authorization happens again in each transition's WHERE)."""

    async def place(self, channel_id: str) -> Place:
        """The tenant the install is bound to, and the room registered for ``channel_id``."""
        async with self._sessions() as session:
            tenant = await stored_tenant(session)
            department = await session.scalar(
                select(Department).where(Department.channel_id == channel_id).limit(1)
            )
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
        return Place(tenant=tenant, room=room)

    async def chat_place(self, ref: str) -> ChatPlace | None:
        """The chat a card's public reference names, with its department's room."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Chat.id, Department.channel_id, Department.team_id)
                    .outerjoin(Department, Department.id == Chat.department_id)
                    .where(Chat.public_id == ref)
                )
            ).one_or_none()
        if row is None:
            return None
        return ChatPlace(chat_id=row[0], channel_id=row[1], team_id=row[2])

    async def chat_by_ref(self, ref: str) -> int | None:
        """The row id of the chat a transcript link names."""
        async with self._sessions() as session:
            return await session.scalar(select(Chat.id).where(Chat.public_id == ref))
