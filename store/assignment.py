"""Automatic assignment: a department in ``round_robin`` or ``least_busy`` offers each
new chat to one agent at a time, and keeps a first-come-first-served queue when every
online agent is at capacity.

The chat's own row holds its one pending offer (``offered_to_id``, ``offer_expires_at``):
an offer is made by a conditional UPDATE that requires the chat to wait with no offer, so
two replicas never offer one chat to two agents. The agent's row is locked before the
UPDATE whose WHERE counts what they own and are offered (on PostgreSQL a second replica
waits for the first to commit and then counts again), so nobody is offered beyond their
capacity. Accept (``store.chats``) counts offers too, and lets only the offered agent
take a chat while its offer is pending.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, Subquery, and_, case, exists, func, or_, select, true, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from store.models import (
    Agent,
    Availability,
    Chat,
    ChatState,
    ChatTag,
    Department,
    DepartmentMember,
    Tag,
)
from store.moves import person_of
from store.unit import Unit
from store.views import ChatView, Person, chat_view

BROADCAST = "broadcast"
ROUND_ROBIN = "round_robin"
LEAST_BUSY = "least_busy"
MODES: tuple[str, ...] = (BROADCAST, ROUND_ROBIN, LEAST_BUSY)
# How many candidates one placement tries before it queues the chat (each may fill up
# meanwhile on another replica).
_TRIES = 5
# The queue's estimate: the median handling time of the department's last ESTIMATE_SAMPLE
# closed chats that were accepted; with fewer than ESTIMATE_MINIMUM of them, none is given.
ESTIMATE_SAMPLE = 20
ESTIMATE_MINIMUM = 3


@dataclass(frozen=True)
class Assigned:
    """The chat is offered to ``agent`` until ``expires_at``."""

    chat: ChatView
    agent: Person
    expires_at: datetime
    # The chat waited in the queue (its customer was told a place): they hear it is their turn.
    from_queue: bool = False


@dataclass(frozen=True)
class Queued:
    """Nobody can take the chat now; its customer is to be told ``position`` (``first``:
    for the first time, with why they wait)."""

    chat: ChatView
    position: int
    first: bool = False
    # How long until their turn, from the recent handling times (None: too little data).
    estimate: timedelta | None = None


Placement = Assigned | Queued


def load_of(agent_id: ColumnElement[int] | int) -> ColumnElement[int]:
    """How many seats an agent fills: the chats they own and those offered to them."""
    counted = aliased(Chat)
    return (
        select(func.count(counted.id))
        .where(
            or_(
                and_(counted.owner_id == agent_id, counted.state == ChatState.ACTIVE),
                and_(counted.offered_to_id == agent_id, counted.state == ChatState.WAITING),
            )
        )
        .scalar_subquery()
    )


def _queued() -> ColumnElement[bool]:
    """A chat waiting in the queue: no offer pending, its card posted (not held back)."""
    return and_(
        Chat.state == ChatState.WAITING,
        Chat.offered_to_id.is_(None),
        Chat.held.is_(False),
        Chat.department_id.is_not(None),
    )


def _ahead() -> ColumnElement[int]:
    """0 for a chat its department puts ahead in the queue (it carries the priority tag,
    or its customer had a chat closed before and returning customers come first), else 1.
    The statement joins the chat's department."""
    tagged = exists().where(
        ChatTag.chat_id == Chat.id,
        Tag.id == ChatTag.tag_id,
        Tag.name == Department.queue_priority_tag,
    )
    earlier = aliased(Chat)
    returning = and_(
        Department.queue_returning.is_(True),
        exists().where(
            earlier.customer_id == Chat.customer_id,
            earlier.id < Chat.id,
            earlier.state == ChatState.CLOSED,
        ),
    )
    return case((or_(tagged, returning), 0), else_=1)


def queue_ranked(department_id: int) -> Subquery:
    """The department's queue with each chat's place: priority first, then first come,
    first served (the notices, the console and ``@Bot chats`` all count it so)."""
    position = func.row_number().over(order_by=(_ahead(), Chat.created_at, Chat.id))
    return (
        select(
            Chat.id,
            Chat.created_at,
            Chat.queue_told,
            Chat.queue_told_at,
            position.label("position"),
        )
        .join(Department, Department.id == Chat.department_id)
        .where(Chat.department_id == department_id, _queued())
        .subquery()
    )


async def handling_time(tx: Unit, department_id: int) -> timedelta | None:
    """The median time from accept to close of the department's recent chats (None: fewer
    than ESTIMATE_MINIMUM of them, too few to say anything)."""
    rows = await tx.session.execute(
        select(Chat.accepted_at, Chat.closed_at)
        .where(
            Chat.department_id == department_id,
            Chat.state == ChatState.CLOSED,
            Chat.accepted_at.is_not(None),
            Chat.closed_at.is_not(None),
        )
        .order_by(Chat.closed_at.desc())
        .limit(ESTIMATE_SAMPLE)
    )
    spans = [(closed - accepted).total_seconds() for accepted, closed in rows]
    if len(spans) < ESTIMATE_MINIMUM:
        return None
    return timedelta(seconds=statistics.median(spans))


async def queue_estimate(tx: Unit, department_id: int) -> timedelta | None:
    """How long one place in the queue takes: the recent median handling time shared by
    the agents on duty (online members; at least one). None: too little data."""
    handling = await handling_time(tx, department_id)
    if handling is None:
        return None
    on_duty = await tx.session.scalar(
        select(func.count()).select_from(_online(department_id).subquery())
    )
    return handling / max(1, on_duty or 0)


def _capacity(tx: Unit, department: Department) -> int | None:
    """The department's limit per agent, or the bridge's default (None: unlimited)."""
    if department.capacity is not None:
        return department.capacity
    return tx.policy.default_capacity


async def _candidates(
    tx: Unit, department: Department, passed_by: int | None, capacity: int | None
) -> list[tuple[Agent, DepartmentMember]]:
    """Online members under capacity, best first: someone other than the agent who just
    let the chat go, then by the mode (longest since an offer, or least loaded)."""
    load = load_of(Agent.id)
    order: list[ColumnElement[object]] = [func.coalesce(Agent.id == passed_by, False)]
    if department.assignment == LEAST_BUSY:
        order.append(load)
    order += [
        DepartmentMember.last_offered_at.is_not(None),
        DepartmentMember.last_offered_at,
        DepartmentMember.id,
    ]
    statement = (
        select(Agent, DepartmentMember)
        .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
        .where(
            DepartmentMember.department_id == department.id,
            Agent.availability == Availability.ONLINE,
        )
        .order_by(*order)
        .limit(_TRIES)
    )
    if capacity is not None:
        statement = statement.where(load < capacity)
    return [(agent, member) for agent, member in await tx.session.execute(statement)]


async def _place(tx: Unit, chat_id: int) -> Placement | None:
    """Offer a queued chat to the best candidate, or tell where it stands in the queue.
    None: the chat is not one to place (taken, offered already, broadcast department)."""
    session = tx.session
    found = (
        await session.execute(
            select(Chat.passed_by_id, Chat.queue_told, Department)
            .join(Department, Department.id == Chat.department_id)
            .where(Chat.id == chat_id, _queued())
        )
    ).one_or_none()
    if found is None or found[2].assignment == BROADCAST:
        return None
    passed_by, was_told, department = found
    capacity = _capacity(tx, department)
    expires_at = tx.now + tx.policy.assignment_offer
    candidates = await _candidates(tx, department, passed_by, capacity)
    if candidates:
        # Held until commit (PostgreSQL): whoever offers these agents next counts after us.
        # The department's online members all at once and by id, so that two replicas
        # never hold them in opposite orders (nor a second placement in this unit).
        await session.execute(_online(department.id).order_by(Agent.id).with_for_update(of=Agent))
    for agent, member in candidates:
        under = (load_of(agent.id) < capacity) if capacity is not None else true()
        offered = await session.execute(
            update(Chat)
            .where(Chat.id == chat_id, _queued(), under)
            .values(offered_to_id=agent.id, offer_expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )
        if offered.rowcount == 1:
            tx.timer(expires_at)  # the timers wake for its expiry after commit
            await session.execute(
                update(DepartmentMember)
                .where(DepartmentMember.id == member.id)
                .values(last_offered_at=tx.now)
                .execution_options(synchronize_session=False)
            )
            view = await chat_view(session, chat_id)
            return Assigned(view, person_of(agent), expires_at, was_told is not None)
        still = await session.scalar(select(Chat.id).where(Chat.id == chat_id, _queued()))
        if still is None:
            return None
    if not candidates and not await _anyone_online(tx, department.id):
        # Nobody to wait for: the customer was told that nobody is online; it waits unsaid.
        return None
    # Told at once the first time (why they wait); a new place keeps the notices' interval.
    told = await _tell(tx, department.id, chat_id, force=was_told is None)
    return told[0] if told else None


def _online(department_id: int) -> Select[tuple[int]]:
    """The ids of the department's online members."""
    return (
        select(Agent.id)
        .join(DepartmentMember, DepartmentMember.agent_id == Agent.id)
        .where(
            DepartmentMember.department_id == department_id,
            Agent.availability == Availability.ONLINE,
        )
    )


async def _anyone_online(tx: Unit, department_id: int) -> bool:
    return await tx.session.scalar(_online(department_id).limit(1)) is not None


async def _tell(
    tx: Unit, department_id: int, only: int | None = None, *, force: bool = False
) -> list[Queued]:
    """Queue positions to tell: each queued chat (or ``only``) whose position changed
    since its customer was last told, at most once per ``queue_notice`` (``force``: now).
    Each claim is a conditional UPDATE, so a position is told once across replicas."""
    session = tx.session
    ranked = queue_ranked(department_id)
    shown = select(ranked.c.id, ranked.c.queue_told, ranked.c.queue_told_at, ranked.c.position)
    rows = await session.execute(shown.where(ranked.c.id == only) if only is not None else shown)
    since = tx.now - tx.policy.queue_notice
    told: list[Queued] = []
    each: timedelta | None = None
    for chat_id, was, at, place in rows.all():
        if was == place or (not force and at is not None and at > since):
            continue
        recent = Chat.queue_told_at > since
        claimed = await session.execute(
            update(Chat)
            .where(
                Chat.id == chat_id,
                _queued(),
                or_(Chat.queue_told.is_(None), Chat.queue_told != place),
                *(() if force else (or_(Chat.queue_told_at.is_(None), ~recent),)),
            )
            .values(queue_told=place, queue_told_at=tx.now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:
            if not told:  # read once, and only when somebody is told
                each = await queue_estimate(tx, department_id)
            view = await chat_view(session, chat_id)
            wait = each * int(place) if each is not None else None
            told.append(Queued(view, int(place), was is None, wait))
    return told


async def do_assign(tx: Unit, chat_id: int) -> Placement | None:
    """A chat just announced in an automatic department: offer it, or queue it."""
    return await _place(tx, chat_id)


async def do_pass_offer(
    tx: Unit, chat_id: int, *, declined_by: Person | None = None
) -> list[Placement] | None:
    """The offer moves on: the offered agent declined (``declined_by``) or its time is
    up; the chat goes to the next agent, or back to the queue. None: the offer was
    taken, declined or expired already (another replica, or the agent's own Accept),
    or it was never theirs."""
    lapsed: ColumnElement[bool] = (
        Chat.offered_to_id
        == select(Agent.id).where(Agent.teams_id == declined_by.teams_id).scalar_subquery()
        if declined_by is not None
        else Chat.offer_expires_at <= tx.now
    )
    result = await tx.session.execute(
        update(Chat)
        .where(Chat.id == chat_id, Chat.state == ChatState.WAITING, lapsed)
        .values(
            passed_by_id=Chat.offered_to_id,
            offered_to_id=None,
            offer_expires_at=None,
            queue_told=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    placed = await _place(tx, chat_id)
    return [placed] if placed is not None else []


async def do_offer_waiting(tx: Unit, teams_id: str) -> list[Placement]:
    """A seat may be free (a chat closed, an agent came online): the heads of the queues
    of the agent's automatic departments are offered, first come first served, while
    someone can take them; the customers still waiting hear their new places."""
    session = tx.session
    departments = list(
        await session.scalars(
            select(DepartmentMember.department_id)
            .join(Department, Department.id == DepartmentMember.department_id)
            .join(Agent, Agent.id == DepartmentMember.agent_id)
            .where(Agent.teams_id == teams_id, Department.assignment != BROADCAST)
        )
    )
    placed: list[Placement] = []
    for department_id in departments:
        ranked = queue_ranked(department_id)
        heads = await session.scalars(select(ranked.c.id).order_by(ranked.c.position).limit(_TRIES))
        for chat_id in list(heads):
            outcome = await _place(tx, chat_id)
            placed += [outcome] if outcome is not None else []
            if not isinstance(outcome, Assigned):
                break
        placed += await _tell(tx, department_id)
    return placed


async def due_offers(tx: Unit, limit: int = 100) -> list[int]:
    """Chats whose offer's time is up, oldest first."""
    return list(
        await tx.session.scalars(
            select(Chat.id)
            .where(Chat.offer_expires_at <= tx.now, Chat.state == ChatState.WAITING)
            .order_by(Chat.offer_expires_at)
            .limit(limit)
        )
    )


async def next_offer_due(tx: Unit) -> datetime | None:
    """When the next pending offer runs out (None: none is pending)."""
    return await tx.session.scalar(
        select(func.min(Chat.offer_expires_at)).where(Chat.state == ChatState.WAITING)
    )
