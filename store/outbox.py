"""The outbox: activities waiting to be delivered, one ordered lane per target.

Rows are added in the transaction of the change that caused them; a dispatcher
leases the oldest pending row of a lane, delivers it and marks it. A lease that
runs out (the process died) makes the row available to any replica again.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, case, delete, func, literal_column, select, update

from store import pacing  # noqa: F401  (its table is part of the schema)
from store.models import DeliveryState, OutboxItem, UTCDateTime
from store.vocabulary import OutboxKind, Payload, payload_json

if TYPE_CHECKING:
    from store.unit import Unit

# Payload key of a line someone wrote (a customer's words in the thread, an agent's line
# to the customer), naming its author: consecutive lines of one author may go as one post.
WORDS = "words"


@dataclass(frozen=True)
class Outgoing:
    """One activity to deliver, in ``lane`` (its order), as the outbox row keeps it: the
    payload's kind and JSON (see :mod:`store.vocabulary` for the typed payloads)."""

    lane: str
    kind: str
    payload: dict[str, Any]
    # Seconds before it is due (a mail waits for the replies that follow the first).
    delay: float = 0.0

    @classmethod
    def of(cls, lane: str, payload: Payload, delay: float = 0.0) -> Outgoing:
        return cls(lane, payload.kind, payload_json(payload), delay)


def outbox_items(rows: Iterable[Any]) -> list[OutboxItem]:
    """Outbox rows read by a Core statement, as the items the dispatcher works with
    (detached: nothing tracks them, they are read and handed on)."""
    return [OutboxItem(**row._mapping) for row in rows]


def chat_lane(chat_id: int) -> str:
    return f"chat:{chat_id}"


def conversation_lane(conversation_id: str) -> str:
    return f"conv:{conversation_id}"


def mail_lane(chat_id: int) -> str:
    """A chat's mails to its customer: apart from its thread and conversation, whose
    sends never wait for an SMTP server."""
    return f"mail:{chat_id}"


def _available(now: Any) -> Any:
    return (
        (OutboxItem.state == DeliveryState.PENDING)
        & (OutboxItem.next_attempt_at <= now)
        & (OutboxItem.lease_until.is_(None) | (OutboxItem.lease_until < now))
    )


# States as literals where a partial index of that state serves the statement.
_PENDING = OutboxItem.state == literal_column("'pending'")


async def due_lanes(tx: Unit, now: datetime, limit: int) -> list[str]:
    """Lanes with a row that may be leased now (a retry that is due, or an expired lease).

    The due rows are read through the partial index of pending rows, oldest due first,
    and their lanes told apart here (a bounded list): a GROUP BY would have the planner
    walk the whole outbox by its lane index, delivered rows and all."""
    rows = await tx.execute(
        select(OutboxItem.lane)
        .where(_PENDING, _available(now))
        .order_by(OutboxItem.next_attempt_at)
        .limit(limit * 4)
    )
    return list(dict.fromkeys(rows.scalars()))[:limit]


async def next_due(tx: Unit) -> datetime | None:
    """When a pending row next becomes available to a sweep: its retry time, or the end of
    the lease another dispatcher holds on it (None: nothing is pending)."""
    free_at = case(
        (
            OutboxItem.lease_until.is_not(None)
            & (OutboxItem.lease_until > OutboxItem.next_attempt_at),
            OutboxItem.lease_until,
        ),
        else_=OutboxItem.next_attempt_at,
    )
    return await tx.scalar(select(func.min(free_at)).where(_PENDING))


def _lease_statement(lanes: Any) -> Any:
    """Lease the head (oldest pending row) of each lane ``lanes`` selects, if nobody holds
    it and it is due: one conditional ``UPDATE … RETURNING`` decides and reads."""
    return (
        update(OutboxItem.__table__)
        .where(
            OutboxItem.id.in_(
                select(func.min(OutboxItem.id))
                .where(lanes, OutboxItem.state == DeliveryState.PENDING)
                .group_by(OutboxItem.lane)
            ),
            _available(bindparam("p_now", type_=UTCDateTime())),
        )
        .values(
            lease_owner=bindparam("p_owner"),
            lease_until=bindparam("p_until", type_=UTCDateTime()),
        )
        .returning(*OutboxItem.__table__.c)
    )


# Built once: this runs for every message, and building the statement cost more
# than executing it.
_LEASE_HEAD = _lease_statement(OutboxItem.lane == bindparam("p_lane"))
_LEASE_HEADS = _lease_statement(OutboxItem.lane.in_(bindparam("p_lanes", expanding=True)))


async def lease_heads(
    tx: Unit, lanes: list[str], owner: str, now: datetime, until: datetime
) -> list[OutboxItem]:
    """Lease the head of each of ``lanes`` that nobody holds and is due, in one statement
    (as :func:`lease_head` does for one lane)."""
    result = await tx.execute(
        _LEASE_HEADS, {"p_lanes": lanes, "p_now": now, "p_owner": owner, "p_until": until}
    )
    return outbox_items(result)


async def lease_head(
    tx: Unit, lane: str, owner: str, now: datetime, lease: timedelta
) -> OutboxItem | None:
    """Lease the oldest pending row of ``lane`` if nobody holds it and it is due.

    Only the head may be leased, so a lane is delivered in order by at most one
    replica at a time. One conditional UPDATE ... RETURNING decides and reads it.
    """
    result = await tx.execute(
        _LEASE_HEAD, {"p_lane": lane, "p_now": now, "p_owner": owner, "p_until": now + lease}
    )
    items = outbox_items(result)
    return items[0] if items else None


async def finish(
    tx: Unit,
    item_ids: list[int],
    owner: str,
    now: datetime,
    *,
    delivered: bool,
    error: str | None = None,
) -> set[int]:
    """Mark leased rows delivered, or failed for good; returns those whose lease was ours."""
    result = await tx.execute(
        update(OutboxItem.__table__)
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
    )
    return set(result.scalars())


async def postpone(
    tx: Unit,
    item_ids: int | list[int],
    owner: str,
    until: datetime,
    error: str | None,
    *,
    attempted: bool = True,
) -> None:
    """Give leased rows back with their next attempt time: after a retryable failure,
    or (``attempted=False``) when a budget makes them wait longer than a lease should."""
    ids = [item_ids] if isinstance(item_ids, int) else item_ids
    values: dict[str, Any] = {"next_attempt_at": until, "lease_owner": None, "lease_until": None}
    if attempted:
        values.update(attempts=OutboxItem.attempts + 1, last_error=error)
    await tx.execute(
        update(OutboxItem.__table__)
        .where(OutboxItem.id.in_(ids), OutboxItem.lease_owner == owner)
        .values(**values)
    )


def author(kind: str, payload: dict[str, Any]) -> str | None:
    """Who wrote the line an item carries, if it is someone's line (else None)."""
    words = payload.get(WORDS) if kind == OutboxKind.SEND else None
    return words if isinstance(words, str) else None


def activity_size(payload: dict[str, Any]) -> int:
    return len(json.dumps(payload.get("activity"), separators=(",", ":")))


def typing(kind: str, payload: dict[str, Any]) -> bool:
    """A typing indicator: it means "writing now", which a line behind it says better."""
    activity = payload.get("activity")
    return (
        kind == OutboxKind.SEND and isinstance(activity, dict) and activity.get("type") == "typing"
    )


async def drop_overtaken(tx: Unit, head: OutboxItem, now: datetime) -> bool:
    """Settle a leased head that what waits behind it makes pointless.

    A card update is overtaken by a later ``update_card`` of the lane before any new
    card (``create_thread``, after which updates address another card): the newer one
    is sent in its turn, so the card still ends as the newest version, one post
    sooner. A typing indicator is overtaken by anything behind it.
    """
    if head.lease_owner is None:
        return False
    if typing(head.kind, head.payload):
        kinds: tuple[str, ...] = ("send", "update_card", "create_thread")
        overtaking = "any"
    elif head.kind == OutboxKind.UPDATE_CARD:
        kinds, overtaking = ("update_card", "create_thread"), "update_card"
    else:
        return False
    following = await tx.scalar(
        select(OutboxItem.kind)
        .where(
            OutboxItem.lane == head.lane,
            OutboxItem.state == DeliveryState.PENDING,
            OutboxItem.id > head.id,
            OutboxItem.kind.in_(kinds),
        )
        .order_by(OutboxItem.id)
        .limit(1)
    )
    if following is None or overtaking not in (following, "any"):
        return False
    await finish(tx, [head.id], head.lease_owner, now, delivered=True, error="overtaken")
    return True


async def lease_run(
    tx: Unit,
    lane: str,
    owner: str,
    now: datetime,
    lease: timedelta,
    *,
    room: int,
    limit: int,
    only: Collection[int] | None = None,
) -> list[OutboxItem]:
    """The lane's head and the lines of its author right behind it, leased (a card update
    that a newer one overtakes is settled on the way); [] if the head is not ours to take."""
    while True:
        head = await lease_head(tx, lane, owner, now, lease)
        if head is None or not await drop_overtaken(tx, head, now):
            break
    if head is None:
        return []
    followers = await lease_followers(
        tx,
        head,
        owner,
        now,
        lease,
        room=room - activity_size(head.payload),
        limit=limit - 1,
        only=only,
    )
    return [head, *followers]


async def lease_followers(
    tx: Unit,
    last: OutboxItem,
    owner: str,
    now: datetime,
    lease: timedelta,
    *,
    room: int,
    limit: int,
    only: Collection[int] | None = None,
) -> list[OutboxItem]:
    """Lease the lines right behind ``last`` (already ours) by the same author, while
    they fit in ``room`` bytes; ``only`` keeps a repeated send to the rows it had.

    Nobody else can lease them (only a lane's head is leased, and the head is ours);
    the conditional UPDATE still checks, as for any lease.
    """
    who = author(last.kind, last.payload)
    if who is None or limit <= 0:
        return []
    rows = await tx.execute(
        select(OutboxItem.id, OutboxItem.kind, OutboxItem.payload)
        .where(
            OutboxItem.lane == last.lane,
            OutboxItem.state == DeliveryState.PENDING,
            OutboxItem.id > last.id,
        )
        .order_by(OutboxItem.id)
        .limit(limit)
    )
    wanted: list[int] = []
    for item_id, kind, payload in rows:
        # A typing indicator between two lines goes with them (it adds nothing to the post).
        size = 0 if typing(kind, payload) else activity_size(payload)
        joins = size == 0 or author(kind, payload) == who
        if not joins or size > room or (only is not None and item_id not in only):
            break
        room -= size
        wanted.append(item_id)
    if not wanted:
        return []
    result = await tx.execute(
        update(OutboxItem.__table__)
        .where(
            OutboxItem.id.in_(wanted),
            OutboxItem.state == DeliveryState.PENDING,
            OutboxItem.lease_owner.is_(None) | (OutboxItem.lease_until < now),
        )
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(*OutboxItem.__table__.c)
    )
    leased = {item.id: item for item in outbox_items(result)}
    run: list[OutboxItem] = []
    for item_id in wanted:
        if item_id not in leased:
            break
        run.append(leased[item_id])
    return run


async def purge(tx: Unit, delivered_before: datetime, failed_before: datetime) -> int:
    """Drop delivered rows delivered before ``delivered_before``, and failed rows (kept a
    while for inspection) created before ``failed_before``."""
    removed = 0
    # Two statements, each served by its partial index (an OR of both would read the
    # whole last day of delivered rows).
    for state, column, before in (
        ("delivered", OutboxItem.delivered_at, delivered_before),
        ("failed", OutboxItem.created_at, failed_before),
    ):
        result = await tx.execute(
            delete(OutboxItem.__table__).where(
                OutboxItem.state == literal_column(f"'{state}'"), column < before
            )
        )
        removed += result.rowcount
    return removed
