"""The hand-over: what a unit of work queued, leased (and its budgets claimed) before commit.

The dispatcher would otherwise spend a transaction to lease each row it was told about,
and another to claim the row's send budgets; both are a statement or two inside the
transaction that wrote the row, which holds what they need already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from store import outbox, pacing
from store.models import OutboxItem
from store.unit import Unit


class SendBudgets(Protocol):
    """The dispatcher's send budgets as the store needs them to claim a slot for a send in
    the transaction that leases it (see :func:`hand_over`)."""

    headroom: float

    def now(self) -> float:
        """The pacing clock (epoch seconds), the one the dispatcher's own claims use."""
        ...

    def busy(self) -> bool:
        """Whether the dispatcher is claiming budgets itself now (many sends' at once)."""
        ...

    def claim_for(self, item: OutboxItem) -> pacing.Claim | None:
        """The budgets ``item``'s send spends from, if known without a query (else None:
        the dispatcher claims before the send, as for any row it leases itself)."""
        ...


class DeliveryHook(Protocol):
    """The dispatcher as the store sees it: who leases, for how long, its budgets (None:
    unpaced) and the hand-over."""

    owner: str
    lease: timedelta

    @property
    def budgets(self) -> SendBudgets | None: ...

    def committed(self, handover: Handover) -> None: ...

    def take_marks(self) -> list[tuple[int, str]]:
        """Rows its dispatcher delivered whose marks wait to ride with a unit of work, with
        their lanes (see :func:`write_marks`)."""
        ...

    def give_back_marks(self, marks: list[tuple[int, str]]) -> None:
        """The unit that took these marks did not commit: they wait again."""
        ...

    def timer_set(self, at: datetime) -> None:
        """A commit set a database timer due ``at``: the replica's timers look then."""
        ...


@dataclass(frozen=True)
class Handover:
    """What a unit of work queued, as the dispatcher takes it over after the commit.

    ``leased``: the heads of the lanes it wrote to that were free, leased to the
    dispatcher; ``unleased``: lanes with rows behind a head that is busy; ``claimed``:
    leased heads whose budgets were claimed in the same transaction, so their sends go
    without a transaction of their own; ``marked``: the lanes of the dispatcher's
    delivered rows whose marks rode with the unit (their next heads are in ``leased``
    when they were free); ``queued``: whether the unit wrote rows of its own.

    A claimed send goes as soon as the dispatcher's task runs, as one it claims itself
    does: a head is leased here only when it is due, so nothing it waits for (a retry,
    a budget) lies between its claim and its send.
    """

    leased: list[OutboxItem]
    unleased: set[str]
    claimed: frozenset[int] = frozenset()
    marked: tuple[tuple[int, str], ...] = ()
    queued: bool = True


async def hand_over(
    tx: Unit, hook: DeliveryHook, marked: tuple[tuple[int, str], ...] = ()
) -> Handover:
    """Lease the head of each lane the unit wrote to, and claim their sends' budgets, all
    in the unit's own transaction.

    A lane the unit's reads found idle (``tx.idle_lanes``) gets its first row written
    leased, with no statement of its own; the heads of the others are leased in one
    UPDATE.

    A customer's line at a normal pace then costs no transaction beyond the one that
    stored it: the dispatcher finds its head leased and its budget spent, and sends. A
    head whose budget is short or unknown here (or any, on PostgreSQL: see
    :func:`claim_budgets`) is claimed by the dispatcher before its send, which waits
    for the room.

    ``marked``: rows the dispatcher delivered whose marks ride with the unit (with their
    lanes): a post with nothing known behind it does not spend a transaction on its mark.
    They are written here, after everything the unit did, as every write of the outbox
    (a unit that locked a chat's row and waits for a delivered head would otherwise
    deadlock with one that marked the head first and waits for the chat), and before the
    heads are leased: the next heads of their lanes are leased in the same statement, so
    rows another replica wrote behind a delivered row while its mark waited (their own
    lease failed) are not left for the lease's end.
    """
    if marked:
        ids = [item_id for item_id, _ in marked]
        await outbox.finish(tx, ids, hook.owner, tx.now, delivered=True)
    heads: dict[str, OutboxItem] = {}
    for row in tx.added:
        heads.setdefault(row.lane, row)
    leased = [row for row in heads.values() if row.lease_owner is not None]
    written = {row.lane for row in leased}
    busy = sorted(
        {lane for lane, row in heads.items() if row.lease_owner is None}
        | ({lane for _, lane in marked} - written)
    )
    if busy:
        until = tx.now + hook.lease
        leased += await outbox.lease_heads(tx, busy, hook.owner, tx.now, until)
    taken = {item.id for item in leased}
    unleased = {row.lane for row in tx.added if row.id not in taken}
    claimed = await claim_budgets(tx, leased, hook.budgets)
    return Handover(leased, unleased, claimed, marked, queued=bool(tx.added))


async def claim_budgets(
    tx: Unit, items: list[OutboxItem], budgets: SendBudgets | None
) -> frozenset[int]:
    """Claim the budgets of these leased sends together; returns the ids of those that got
    their slot. A send that must wait records nothing here.

    It adds two statements to a transaction that runs anyway and saves the dispatcher's
    claim its own. SQLite's single writer serializes the transaction already. On
    PostgreSQL the tenant's row is in nearly every claim, and units that waited for it
    queued behind each other until they committed (a convoy of seconds under load): there
    a unit claims only while the dispatcher has no grouped claim of its own under way
    (which, busy, takes many sends' claims in one transaction) and never waits for a
    budget's lock (``SKIP LOCKED``: a row another transaction holds leaves the claim to
    the dispatcher).
    """
    if budgets is None or (tx.dialect != "sqlite" and budgets.busy()):
        return frozenset()
    wanted = [(item.id, budgets.claim_for(item)) for item in items]
    known = [(item_id, claim) for item_id, claim in wanted if claim is not None]
    if not known:
        return frozenset()
    claims = [claim for _, claim in known]
    waits = await pacing.claim_in_passing(tx, claims, budgets.now(), budgets.headroom)
    if waits is None:
        return frozenset()
    return frozenset(item_id for (item_id, _), wait in zip(known, waits, strict=True) if wait <= 0)
