"""Send budgets that every replica sees: when each budget last spent, kept in the database.

Teams throttles a bot per thread (7 sends in 1 s, 8 in 2 s, 60 in 30 s, 1,800 an hour)
and per app in a tenant (50 a second). Its windows slide, so a token bucket either
breaks them (a full bucket plus its refill is twice the limit in one window) or wastes
half of them; the exact test is "the n-th most recent send is older than the window".
A budget's row therefore keeps the times of its recent sends (no more than its largest
window needs), and a claim is decided on rows locked in one transaction, so two
replicas pacing the same channel never both take its last slot.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Float, String, Text, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base

if TYPE_CHECKING:
    from store.unit import Unit


class PaceBudget(Base):
    """One budget (a thread, a channel, an app in a tenant): its recent send times.

    ``stamps`` is a JSON list of epoch seconds, oldest first, pruned to the longest
    window and to the most sends any window counts.
    """

    __tablename__ = "pace_budgets"

    key: Mapped[str] = mapped_column(String(600), primary_key=True)
    stamps: Mapped[str] = mapped_column(Text, default="[]")
    # The newest send (epoch seconds), so housekeeping can drop budgets nobody spends from.
    last_at: Mapped[float] = mapped_column(Float, default=0.0, index=True)


@dataclass(frozen=True)
class Window:
    """At most ``sends`` in any ``seconds``."""

    sends: int
    seconds: float


@dataclass(frozen=True)
class Limits:
    """Every window one budget must stay within."""

    windows: tuple[Window, ...]

    @classmethod
    def parse(cls, text: str, margin: float = 0.0) -> Limits:
        """``"7/1,8/2,60/30,1800/3600"``: sends/seconds pairs (how settings spell them).

        ``margin`` widens every window: a send is counted when it is claimed, Teams counts
        it when it arrives, and two sends do not take the same time to get there.
        """
        windows = []
        for part in text.split(","):
            if part.strip():
                sends, seconds = part.split("/")
                windows.append(Window(int(sends), float(seconds) + margin))
        return cls(tuple(windows))

    @property
    def span(self) -> float:
        return max((w.seconds for w in self.windows), default=0.0)

    @property
    def depth(self) -> int:
        return max((w.sends for w in self.windows), default=0)


@dataclass(frozen=True)
class Claim:
    """One send that wants a slot in each of its budgets at once.

    ``low`` (card updates and notices) may not use the last ``headroom`` share of any
    window: when a budget is short, customers' words get the slots.
    """

    budgets: tuple[tuple[str, Limits], ...]
    low: bool = False


def _allowed(window: Window, low: bool, headroom: float) -> int:
    if not low:
        return window.sends
    return max(1, window.sends - max(1, math.ceil(window.sends * headroom)))


def wait_for(stamps: list[float], limits: Limits, now: float, low: bool, headroom: float) -> float:
    """Seconds until one more send fits every window of ``limits`` (0: it fits now)."""
    wait = 0.0
    for window in limits.windows:
        allowed = _allowed(window, low, headroom)
        if len(stamps) >= allowed:
            wait = max(wait, stamps[-allowed] + window.seconds - now)
    return wait


def _pruned(stamps: list[float], limits: Limits, now: float) -> list[float]:
    start = bisect.bisect_right(stamps, now - limits.span)
    return stamps[max(start, len(stamps) - limits.depth) :]


_INSERT = {"sqlite": sqlite_insert, "postgresql": pg_insert}
_SAVE = (
    update(PaceBudget.__table__)
    .where(PaceBudget.__table__.c.key == bindparam("p_key"))
    .values(stamps=bindparam("p_stamps"), last_at=bindparam("p_last"))
)


async def _locked(tx: Unit, keys: list[str], passing: bool) -> dict[str, list[float]] | None:
    """The budgets' rows, created when missing, locked until the transaction ends (in key
    order, so two replicas claiming overlapping budgets cannot deadlock).

    ``passing``: a claim made in passing, by a unit of work that must not wait for another
    transaction's claim (PostgreSQL: ``SKIP LOCKED``): None if a row is locked or not
    made yet; the dispatcher's claim then does it."""
    query = (
        select(PaceBudget.key, PaceBudget.stamps)
        .where(PaceBudget.key.in_(keys))
        .order_by(PaceBudget.key)
        .with_for_update(skip_locked=passing)
    )
    found = {key: stamps for key, stamps in (await tx.execute(query)).all()}
    missing = [key for key in keys if key not in found]
    if missing and passing and tx.dialect == "postgresql":
        return None
    if missing:
        insert = _INSERT[tx.dialect]
        await tx.execute(
            insert(PaceBudget.__table__)
            .values([{"key": key, "stamps": "[]"} for key in missing])
            .on_conflict_do_nothing()
        )
        again = query.where(PaceBudget.key.in_(missing))
        found.update({key: stamps for key, stamps in (await tx.execute(again)).all()})
    return {key: json.loads(stamps) for key, stamps in found.items()}


async def claim(tx: Unit, claims: Sequence[Claim], now: float, headroom: float) -> list[float]:
    """Decide claims together: each gets 0 (its send is recorded in every budget it
    spends from: go now) or the seconds to wait before asking again (nothing recorded).

    Customers' words are decided before the others, so in a short budget they take
    the slots first; a claim fits only if all its budgets have room, so a send never
    spends from one budget while another makes it wait.
    """
    decided = await book(tx, claims, now, headroom, within=0.0)
    assert decided is not None  # not in passing: it waits for the locks
    return [wait for wait, _ in decided]


async def claim_in_passing(
    tx: Unit, claims: Sequence[Claim], now: float, headroom: float
) -> list[float] | None:
    """:func:`claim` by a unit of work that claims its sends' budgets on the way: None
    (nothing decided) where that would wait for another transaction's claim, or make a
    budget's row on PostgreSQL (see :func:`_locked`)."""
    decided = await book(tx, claims, now, headroom, within=0.0, passing=True)
    return None if decided is None else [wait for wait, _ in decided]


async def book(
    tx: Unit,
    claims: Sequence[Claim],
    now: float,
    headroom: float,
    within: float,
    *,
    passing: bool = False,
) -> list[tuple[float, bool]] | None:
    """:func:`claim`, and a send that must wait at most ``within`` seconds books its slot:
    its stamp is recorded at the moment it may go, and it answers (wait, True); it then
    sends when the wait is over without asking again.

    Booking spreads the waiting sends over the coming slots. Without it, every lane
    waiting on one budget (the app's in a tenant, shared by every thread) is told the
    same moment, all of them ask again then, one window's worth get through and the rest
    start over: a crowd that spends the database and leaves slots unused.
    """
    keys = sorted({key for c in claims for key, _ in c.budgets})
    if not keys:
        return [(0.0, False)] * len(claims)
    stamps = await _locked(tx, keys, passing)
    if stamps is None:
        return None
    changed: set[str] = set()
    decided = [(0.0, False)] * len(claims)
    for index in sorted(range(len(claims)), key=lambda i: claims[i].low):
        wanted = claims[index]
        wait = max(
            wait_for(stamps[key], limits, now, wanted.low, headroom)
            for key, limits in wanted.budgets
        )
        if wait > within:
            decided[index] = (wait, False)
            continue
        decided[index] = (wait, wait > 0)
        for key, limits in wanted.budgets:
            kept = _pruned(stamps[key], limits, now)
            bisect.insort(kept, now + wait)
            stamps[key] = kept
            changed.add(key)
    if changed:
        await tx.execute(
            _SAVE,
            [
                {
                    "p_key": key,
                    "p_stamps": json.dumps([round(s, 4) for s in stamps[key]]),
                    "p_last": stamps[key][-1],
                }
                for key in sorted(changed)
            ],
        )
    return decided


async def purge(tx: Unit, before: float) -> int:
    """Drop budgets with no send since ``before`` (every window of theirs has passed): one
    row per conversation ever written to would otherwise stay for good."""
    result = await tx.execute(delete(PaceBudget.__table__).where(PaceBudget.last_at < before))
    return result.rowcount
