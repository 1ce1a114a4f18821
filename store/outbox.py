"""The outbox: activities waiting to be delivered, one ordered lane per target.

Rows are added in the transaction of the change that caused them; a dispatcher
leases the oldest pending row of a lane, delivers it and marks it. A lease that
runs out (the process died) makes the row available to any replica again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import DeliveryState, OutboxItem, UTCDateTime


@dataclass(frozen=True)
class Outgoing:
    """One activity to deliver.

    ``kind`` is ``send`` (to ``payload['conversation']`` or, when that is absent,
    to the thread of ``payload['chat_id']``), ``create_thread`` (post a request
    card as a new thread in a room) or ``update_card`` (replace a chat's card).
    """

    lane: str
    kind: str
    payload: dict[str, Any]


def chat_lane(chat_id: int) -> str:
    return f"chat:{chat_id}"


def conversation_lane(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def add_outgoing(session: AsyncSession, items: list[Outgoing], now: datetime) -> list[OutboxItem]:
    rows = [
        OutboxItem(
            lane=item.lane,
            kind=item.kind,
            payload=item.payload,
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for item in items
    ]
    session.add_all(rows)
    return rows


def _available(now: Any) -> Any:
    return (
        (OutboxItem.state == DeliveryState.PENDING)
        & (OutboxItem.next_attempt_at <= now)
        & (OutboxItem.lease_until.is_(None) | (OutboxItem.lease_until < now))
    )


async def due_lanes(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """Lanes with a row that may be leased now (a retry that is due, or an expired lease)."""
    rows = await session.scalars(
        select(OutboxItem.lane).where(_available(now)).group_by(OutboxItem.lane).limit(limit)
    )
    return list(rows)


# Built once: this runs for every message, and building the statement cost more
# than executing it.
_LEASE_HEAD = (
    update(OutboxItem)
    .where(
        OutboxItem.id
        == select(func.min(OutboxItem.id))
        .where(
            OutboxItem.lane == bindparam("p_lane"),
            OutboxItem.state == DeliveryState.PENDING,
        )
        .scalar_subquery(),
        _available(bindparam("p_now", type_=UTCDateTime())),
    )
    .values(
        lease_owner=bindparam("p_owner"),
        lease_until=bindparam("p_until", type_=UTCDateTime()),
    )
    .returning(OutboxItem)
    .execution_options(synchronize_session=False)
)


async def lease_head(
    session: AsyncSession, lane: str, owner: str, now: datetime, lease: timedelta
) -> OutboxItem | None:
    """Lease the oldest pending row of ``lane`` if nobody holds it and it is due.

    Only the head may be leased, so a lane is delivered in order by at most one
    replica at a time. One conditional UPDATE ... RETURNING decides and reads it.
    """
    result = await session.execute(
        _LEASE_HEAD, {"p_lane": lane, "p_now": now, "p_owner": owner, "p_until": now + lease}
    )
    return result.scalars().one_or_none()


async def finish(
    session: AsyncSession,
    item_ids: list[int],
    owner: str,
    now: datetime,
    *,
    delivered: bool,
    error: str | None = None,
) -> set[int]:
    """Mark leased rows delivered, or failed for good; returns those whose lease was ours."""
    result = await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id.in_(item_ids), OutboxItem.lease_owner == owner)
        .values(
            state=DeliveryState.DELIVERED if delivered else DeliveryState.FAILED,
            delivered_at=now if delivered else None,
            lease_owner=None,
            lease_until=None,
            attempts=OutboxItem.attempts + 1,
            last_error=error,
        )
        .returning(OutboxItem.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


async def postpone(
    session: AsyncSession, item_id: int, owner: str, until: datetime, error: str
) -> None:
    """Give a leased row back with its next attempt time after a retryable failure."""
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.lease_owner == owner)
        .values(
            next_attempt_at=until,
            lease_owner=None,
            lease_until=None,
            attempts=OutboxItem.attempts + 1,
            last_error=error,
        )
        .execution_options(synchronize_session=False)
    )


async def purge(session: AsyncSession, delivered_before: datetime, failed_before: datetime) -> int:
    """Drop delivered rows delivered before ``delivered_before``, and failed rows (kept a
    while for inspection) created before ``failed_before``."""
    result = await session.execute(
        delete(OutboxItem)
        .where(
            or_(
                and_(
                    OutboxItem.state == DeliveryState.DELIVERED,
                    OutboxItem.delivered_at < delivered_before,
                ),
                and_(
                    OutboxItem.state == DeliveryState.FAILED,
                    OutboxItem.created_at < failed_before,
                ),
            )
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
