"""Report figures of one department over a date range, for the console and ``@Bot report``.

The chats of the range are read once and the figures computed here in Python, so
SQLite and PostgreSQL give the same numbers (their percentile functions differ, and
SQLite has none). Percentiles are nearest-rank: the p-th percentile of n sorted
values is the value at rank ceil(p/100 * n), a value that really occurred. The read runs
in the caller's unit (``store.reading()``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from store.console_models import Rating
from store.models import Agent, Chat, ChatState
from store.unit import Unit


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of a duration, in seconds (None: nothing measured)."""

    median: float | None
    p90: float | None
    count: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(percentile(values, 50), percentile(values, 90), len(values))


@dataclass(frozen=True)
class AgentLine:
    name: str
    chats: int
    ratings: int
    average: float | None


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    received: int
    accepted: int
    missed: int
    open_now: int
    time_to_accept: Spread
    time_to_first_reply: Spread
    handling: Spread
    agents: tuple[AgentLine, ...]
    ratings: int
    score: float | None  # mean rating, 1 to 5
    distribution: tuple[int, ...]  # chats rated 1, 2, 3, 4, 5
    by_hour: tuple[int, ...]  # chats received per hour of day (UTC), 0 to 23


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds()


async def report(tx: Unit, department_id: int, since: datetime, until: datetime) -> Report:
    """Figures over the chats the department received in ``[since, until)``."""
    rows = (
        await tx.session.execute(
            select(
                Chat.state,
                Chat.created_at,
                Chat.accepted_at,
                Chat.first_reply_at,
                Chat.closed_at,
                Agent.name,
                Rating.score,
            )
            .outerjoin(Agent, Agent.id == Chat.owner_id)
            .outerjoin(Rating, Rating.chat_id == Chat.id)
            .where(
                Chat.department_id == department_id,
                Chat.created_at >= since,
                Chat.created_at < until,
            )
        )
    ).all()
    accept: list[float] = []
    reply: list[float] = []
    handling: list[float] = []
    per_agent: dict[str, list[int]] = {}
    scores: list[int] = []
    hours = [0] * 24
    missed = open_now = 0
    for state, created, accepted, first_reply, closed, owner, score in rows:
        hours[created.hour] += 1
        if accepted is None:
            if state == ChatState.CLOSED:
                missed += 1
        else:
            accept.append((accepted - created).total_seconds())
        if state != ChatState.CLOSED:
            open_now += 1
        waited = _seconds(first_reply, created)
        if waited is not None:
            reply.append(waited)
        handled = _seconds(closed, accepted)
        if handled is not None:
            handling.append(handled)
        if owner is not None:
            per_agent.setdefault(owner, [])
            if score is not None:
                per_agent[owner].append(score)
        if score is not None:
            scores.append(score)
    owned = Counter(owner for *_, owner, _ in rows if owner is not None)
    counts = Counter(scores)
    return Report(
        since=since,
        until=until,
        received=len(rows),
        accepted=len(accept),
        missed=missed,
        open_now=open_now,
        time_to_accept=Spread.of(accept),
        time_to_first_reply=Spread.of(reply),
        handling=Spread.of(handling),
        agents=tuple(
            AgentLine(
                name,
                owned[name],
                len(given),
                sum(given) / len(given) if given else None,
            )
            for name, given in sorted(per_agent.items(), key=lambda item: -owned[item[0]])
        ),
        ratings=len(scores),
        score=sum(scores) / len(scores) if scores else None,
        distribution=tuple(counts.get(n, 0) for n in range(1, 6)),
        by_hour=tuple(hours),
    )
