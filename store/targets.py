"""Response-time targets: how long a customer may wait for an answer, in business hours.

A department may set a target for the first answer of a chat and one for the next answer
while the customer waits (they wrote, and no agent has answered since). A wait under a
target is kept on the chat's row: when it began (``target_since``), when the answer is
due (``target_due_at``, business hours counted by :meth:`BusinessHours.after`) and two
timers, the owner's reminder at 80 % (``target_remind_at``) and the breach
(``target_breach_at``). Each timer is fired by a conditional UPDATE that clears it, so
it fires once across replicas; the agent's answer ends the wait (``answered``) and keeps
it in ``response_waits`` for the reports. A department without targets writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update

from store.hours import hours_of
from store.models import Agent, Chat, ChatState, Department, ResponseWait
from store.unit import Unit
from store.views import ChatView, chat_view

FIRST = "first"
NEXT = "next"
# The share of the target after which the owner is reminded.
REMIND_AT = 0.8


@dataclass(frozen=True)
class Reminded:
    """The owner (or, with none yet, the room in the chat's thread) is to be reminded:
    the answer is due at ``due_at``."""

    chat: ChatView
    due_at: datetime


@dataclass(frozen=True)
class Breached:
    """The answer is late: the department's supervisors are to be told."""

    chat: ChatView
    since: datetime
    due_at: datetime


async def start_wait(
    tx: Unit, chat_id: int, department_id: int, seconds: int, since: datetime
) -> None:
    """Begin a wait under a target of ``seconds`` business seconds from ``since``: its
    deadline and its reminder are set (the timers are woken). A wait already running
    on the chat is kept (the WHERE): one wait at a time."""
    hours = await hours_of(tx.session, department_id)
    if hours is None:
        due = since + timedelta(seconds=seconds)
        remind = since + timedelta(seconds=seconds * REMIND_AT)
    else:
        due, remind = hours.after(since, seconds), hours.after(since, seconds * REMIND_AT)
    await tx.execute(
        update(Chat.__table__)
        .where(Chat.id == chat_id, Chat.target_due_at.is_(None))
        .values(
            target_since=since,
            target_due_at=due,
            target_remind_at=remind,
            target_breach_at=due,
        )
    )
    tx.timer(remind)


async def restart_first(
    tx: Unit, chat_id: int, department_id: int, since: datetime | None = None
) -> None:
    """A waiting chat entered a department (the customer's choice, a move) or the
    company's bot handed it to people (``since``: then): its first answer's wait runs
    under that department's target from when the chat began, or ``since`` (no target:
    no wait runs)."""
    row = (
        await tx.execute(
            select(
                Department.first_response_target,
                Chat.created_at,
                Chat.first_reply_at,
                Chat.target_due_at,
            )
            .join(Chat, Chat.id == chat_id)
            .where(Department.id == department_id)
        )
    ).one_or_none()
    if row is None or row.first_reply_at is not None:
        return
    if row.target_due_at is not None:
        # The previous department's wait ends here (a move): the new one's target counts.
        await tx.execute(update(Chat.__table__).where(Chat.id == chat_id).values(**_CLEARED))
    if row.first_response_target:
        begun = since or row.created_at
        await start_wait(tx, chat_id, department_id, row.first_response_target, begun)


_CLEARED = {
    "target_since": None,
    "target_due_at": None,
    "target_remind_at": None,
    "target_breach_at": None,
}


async def answered(tx: Unit, chat: Chat, agent_id: int) -> None:
    """An agent's answer reached the customer: a wait under a target ends and is kept
    for the reports (completing its row if it was breached). ``chat`` is the unit's
    loaded row; its wait columns are cleared by the unit's flush."""
    if chat.target_since is None or chat.target_due_at is None or chat.department_id is None:
        return
    waits = ResponseWait.__table__
    done = await tx.execute(
        update(waits)
        .where(
            waits.c.chat_id == chat.id,
            waits.c.since == chat.target_since,
            waits.c.answered_at.is_(None),
        )
        .values(answered_at=tx.now)
    )
    if done.rowcount != 1:
        tx.session.add(
            ResponseWait(
                chat_id=chat.id,
                department_id=chat.department_id,
                agent_id=agent_id,
                kind=FIRST if chat.first_reply_at is None else NEXT,
                since=chat.target_since,
                due_at=chat.target_due_at,
                answered_at=tx.now,
            )
        )
    for column, value in _CLEARED.items():
        setattr(chat, column, value)


async def next_target_due(tx: Unit) -> datetime | None:
    """When a target's timer is next due (None: no customer waits under one): one
    statement over two partial indexes, nothing else is read when nothing waits."""
    row = (
        await tx.execute(select(func.min(Chat.target_remind_at), func.min(Chat.target_breach_at)))
    ).one()
    return min((at for at in row if at is not None), default=None)


async def due_targets(tx: Unit, limit: int = 100) -> tuple[list[int], list[int]]:
    """The chats whose reminder is due, and those whose breach is due (ids)."""
    remind = await tx.session.scalars(
        select(Chat.id).where(Chat.target_remind_at <= tx.now).limit(limit)
    )
    breach = await tx.session.scalars(
        select(Chat.id).where(Chat.target_breach_at <= tx.now).limit(limit)
    )
    return list(remind), list(breach)


async def do_remind(tx: Unit, chat_id: int) -> Reminded | None:
    """Claim a due reminder by clearing it in a conditional UPDATE, so it is sent once
    across replicas (a loser, or a closed chat, gets None)."""
    due = await tx.scalar(
        update(Chat.__table__)
        .where(Chat.id == chat_id, Chat.target_remind_at <= tx.now)
        .values(target_remind_at=None)
        .returning(Chat.target_due_at)
    )
    if due is None:
        return None
    view = await chat_view(tx.session, chat_id)
    return Reminded(view, due) if view.state != ChatState.CLOSED else None


async def do_breach(tx: Unit, chat_id: int) -> Breached | None:
    """Claim a due breach by clearing its timer in a conditional UPDATE (once across
    replicas), and keep the breached wait for the reports, with the owner then."""
    row = (
        await tx.execute(
            update(Chat.__table__)
            .where(Chat.id == chat_id, Chat.target_breach_at <= tx.now)
            .values(target_breach_at=None, target_remind_at=None)
            .returning(
                Chat.target_since,
                Chat.target_due_at,
                Chat.state,
                Chat.department_id,
                Chat.owner_id,
                Chat.first_reply_at,
            )
        )
    ).one_or_none()
    if row is None or row.state == ChatState.CLOSED or row.target_since is None:
        return None
    tx.session.add(
        ResponseWait(
            chat_id=chat_id,
            department_id=row.department_id,
            agent_id=row.owner_id,
            kind=FIRST if row.first_reply_at is None else NEXT,
            since=row.target_since,
            due_at=row.target_due_at,
            breached_at=tx.now,
        )
    )
    return Breached(await chat_view(tx.session, chat_id), row.target_since, row.target_due_at)


@dataclass(frozen=True)
class TargetFigures:
    """How a department's waits under its targets went, over the waits begun in a range:
    answers within target of all answers, and the breaches by agent and by hour (in the
    report's zone)."""

    answered: int
    met: int
    breaches: int
    by_agent: tuple[tuple[str | None, int], ...]  # (owner's name, None: nobody), most first
    by_hour: tuple[int, ...]  # breaches per hour of day, 0 to 23

    @property
    def share_met(self) -> float | None:
        return self.met / self.answered if self.answered else None


async def target_figures(
    tx: Unit,
    department_id: int,
    since: datetime,
    until: datetime,
    hour: Any,
    local: Callable[[Any], int] = int,
) -> TargetFigures:
    """Three aggregates over the waits begun in ``[since, until)`` (index on department
    and ``since``); ``hour`` makes a stored time's hour in the report's way, ``local``
    its hour of day in the report's zone."""
    waits = ResponseWait.__table__
    in_range = and_(
        waits.c.department_id == department_id, waits.c.since >= since, waits.c.since < until
    )
    answered, met, breaches = (
        await tx.execute(
            select(
                func.count(waits.c.answered_at),
                func.count().filter(waits.c.answered_at <= waits.c.due_at),
                func.count(waits.c.breached_at),
            ).where(in_range)
        )
    ).one()
    breached = and_(in_range, waits.c.breached_at.is_not(None))
    count = func.count().label("n")
    by_agent = await tx.execute(
        select(Agent.name, count)
        .select_from(waits.outerjoin(Agent, Agent.id == waits.c.agent_id))
        .where(breached)
        .group_by(Agent.name)
        .order_by(count.desc(), Agent.name)
    )
    hours = [0] * 24
    at = hour(waits.c.breached_at)
    for when, n in await tx.execute(select(at, func.count()).where(breached).group_by(at)):
        hours[local(when)] += int(n)
    return TargetFigures(
        int(answered),
        int(met),
        int(breaches),
        tuple((name, int(n)) for name, n in by_agent),
        tuple(hours),
    )
