"""The store's side of pacing, on both engines: budgets shared through the database, runs
of one author's lines leased together, card updates overtaken by newer ones dropped, a
send's budgets claimed in the transaction that queued or leased it.

No time is measured: the pacing clock is a number the test gives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import insert, select

from dialogs.replies import card_update, text_activity, to_thread
from store import Store, dispatch, migrate, pacing
from store.core import Retention
from store.engine import create_engine
from store.handover import Handover
from store.models import DeliveryState, OutboxItem
from store.outbox import Outgoing
from store.pacing import Claim, Limits, PaceBudget
from store.unit import Unit
from tests.conftest import ManualClock

LEASE = timedelta(seconds=30)
T = TypeVar("T")
THREAD = Limits.parse("7/1,8/2,60/30,1800/3600")
TENANT = Limits.parse("50/1")


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database, like two replicas."""
    engines = [create_engine(database_url), create_engine(database_url)]
    await migrate.upgrade(engines[0])
    clock = ManualClock()
    sqlite = database_url.startswith("sqlite")
    first, second = (Store(engine, clock, serialize_writes=sqlite) for engine in engines)
    yield first, second
    for engine in engines:
        await engine.dispose()


async def in_unit(store: Store, work: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """One of the dispatcher's store functions, in a unit of its own (as the dispatcher
    runs them)."""
    async with store.unit() as tx:
        return await work(tx, *args, **kwargs)


async def decide(tx: Unit, claims: list[Claim], now: float, headroom: float) -> list[float]:
    """The store's decision on claims, as a transaction that stores or leases makes it."""
    return await pacing.claim(tx, claims, now, headroom)


async def queue(store: Store, items: list[Outgoing]) -> list[int]:
    async with store.unit() as tx:
        tx.enqueue(items)
        await tx.settle()
        return [row.id for row in tx.added]


def says(chat_id: int, text: str, by: str | None = "customer") -> Outgoing:
    return to_thread(chat_id, text_activity(f"**Lan:** {text}"), by=by)


async def states(store: Store, ids: list[int]) -> list[tuple[DeliveryState, str | None]]:
    async with store.reading() as tx:
        rows = await tx.execute(
            select(OutboxItem.state, OutboxItem.last_error)
            .where(OutboxItem.id.in_(ids))
            .order_by(OutboxItem.id)
        )
        return [(state, error) for state, error in rows]


async def test_two_replicas_share_a_channel_budget(stores: tuple[Store, Store]) -> None:
    """Sends claimed alternately on two replicas count in one budget: the eighth within a
    second waits, whichever replica asks."""
    first, second = stores
    channel = ("conv:19:room", THREAD)
    claims = [
        Claim(((f"conv:19:room;messageid={n % 3}", THREAD), channel, ("tenant:t", TENANT)))
        for n in range(8)
    ]
    now = 1_000.0
    waits = []
    for n, claim in enumerate(claims[:7]):
        replica = first if n % 2 else second
        waits += await in_unit(replica, decide, [claim], now + n * 0.01, 0.25)
    assert waits == [0.0] * 7
    [late] = await in_unit(first, decide, [claims[7]], now + 0.1, 0.25)
    [also_late] = await in_unit(second, decide, [claims[7]], now + 0.1, 0.25)
    assert late > 0 and also_late > 0
    # Once the window has passed, there is room again; the row keeps what windows need.
    [later] = await in_unit(second, decide, [claims[7]], now + 2.5, 0.25)
    assert later == 0.0
    async with first.reading() as tx:
        stamps = await tx.scalar(select(PaceBudget.stamps).where(PaceBudget.key == channel[0]))
    assert stamps is not None and stamps.count(",") == 7


async def test_customers_words_take_a_short_budget_first(stores: tuple[Store, Store]) -> None:
    store, _ = stores
    budget = (("conv:19:room", THREAD),)
    assert await in_unit(store, decide, [Claim(budget)] * 5, 50.0, 0.25) == [0.0] * 5
    # Five of seven used: a card update or a notice leaves the rest to customers' words,
    # even when it asks in the same moment and first.
    waits = await in_unit(
        store, decide, [Claim(budget, low=True), Claim(budget), Claim(budget)], 50.0, 0.25
    )
    assert waits[0] > 0 and waits[1:] == [0.0, 0.0]


async def test_a_run_is_one_authors_lines_in_a_row(stores: tuple[Store, Store]) -> None:
    store, other = stores
    ids = await queue(
        store,
        [
            says(1, "one"),
            says(1, "two"),
            says(1, "three"),
            to_thread(1, text_activity("a notice")),
            says(1, "four"),
        ],
    )
    run = await in_unit(store, dispatch.lease_run, "chat:1", "a", LEASE, room=64_000, limit=50)
    assert [item.id for item in run] == ids[:3]
    # Nobody else gets the lane (or any row of the run) while it is leased.
    assert (
        await in_unit(other, dispatch.lease_run, "chat:1", "b", LEASE, room=64_000, limit=50) == []
    )
    assert await in_unit(store, dispatch.delivered, [(item.id, None) for item in run], "a") == set(
        ids[:3]
    )
    notice = await in_unit(store, dispatch.lease_run, "chat:1", "a", LEASE, room=64_000, limit=50)
    assert [item.id for item in notice] == [ids[3]]


async def test_a_repeated_run_keeps_its_rows(stores: tuple[Store, Store]) -> None:
    store, _ = stores
    ids = await queue(store, [says(2, "one"), says(2, "two")])
    run = await in_unit(store, dispatch.lease_run, "chat:2", "a", LEASE, room=64_000, limit=50)
    await in_unit(store, dispatch.retry_later, [item.id for item in run], "a", 0, "503")
    # A line arrives before the repeat: the repeat still carries the first post's rows.
    later = await queue(store, [says(2, "three")])
    again = await in_unit(
        store, dispatch.lease_run, "chat:2", "a", LEASE, room=64_000, limit=50, only=frozenset(ids)
    )
    assert [item.id for item in again] == ids
    await in_unit(store, dispatch.delivered, [(item.id, None) for item in again], "a")
    rest = await in_unit(store, dispatch.lease_run, "chat:2", "a", LEASE, room=64_000, limit=50)
    assert [item.id for item in rest] == later


async def test_size_limits_a_run(stores: tuple[Store, Store]) -> None:
    store, _ = stores
    ids = await queue(store, [says(3, "x" * 300) for _ in range(4)])
    run = await in_unit(store, dispatch.lease_run, "chat:3", "a", LEASE, room=800, limit=50)
    assert [item.id for item in run] == ids[:2]


async def test_overtaken_card_update_is_dropped(stores: tuple[Store, Store]) -> None:
    store, _ = stores
    old = card_update(4, {"type": "message", "text": "old card"})
    new = card_update(4, {"type": "message", "text": "new card"})
    ids = await queue(store, [old, says(4, "hello"), new])
    run = await in_unit(store, dispatch.lease_run, "chat:4", "a", LEASE, room=64_000, limit=50)
    assert [item.id for item in run] == [ids[1]]
    await in_unit(store, dispatch.delivered, [(ids[1], None)], "a")
    newest = await in_unit(store, dispatch.lease_run, "chat:4", "a", LEASE, room=64_000, limit=50)
    assert [item.id for item in newest] == [ids[2]]
    assert newest[0].payload["activity"]["text"] == "new card"
    assert (await states(store, ids[:1])) == [(DeliveryState.DELIVERED, "overtaken")]


async def test_card_update_before_a_new_card_is_kept(stores: tuple[Store, Store]) -> None:
    """After a new card (the chat moved), updates address that card: the old one's last
    update still goes."""
    store, _ = stores
    room = {"conversation": {"id": "19:other"}}
    ids = await queue(
        store,
        [
            card_update(5, {"type": "message", "text": "moved away"}),
            Outgoing("chat:5", "create_thread", {"chat_id": 5, "room": room, "activity": {}}),
            card_update(5, {"type": "message", "text": "new room's card"}),
        ],
    )
    run = await in_unit(store, dispatch.lease_run, "chat:5", "a", LEASE, room=64_000, limit=50)
    assert [item.id for item in run] == [ids[0]]


async def test_typing_indicators_give_way_to_lines(stores: tuple[Store, Store]) -> None:
    """A typing indicator waiting before a line is dropped; one between two lines of the
    same author goes with their post."""
    store, _ = stores
    typing = to_thread(6, {"type": "typing"})
    ids = await queue(store, [typing, says(6, "one"), typing, says(6, "two")])
    run = await in_unit(store, dispatch.lease_run, "chat:6", "a", LEASE, room=64_000, limit=50)
    assert [item.id for item in run] == ids[1:]
    assert (await states(store, ids[:1])) == [(DeliveryState.DELIVERED, "overtaken")]


async def test_idle_budgets_are_purged(stores: tuple[Store, Store]) -> None:
    store, _ = stores
    now = store.clock().timestamp()
    budget = (("conv:idle", THREAD),)
    assert await in_unit(store, decide, [Claim(budget)], now - 3 * 3600, 0.25) == [0.0]
    assert await in_unit(store, decide, [Claim((("conv:busy", THREAD),))], now, 0.25) == [0.0]
    await in_unit(store, dispatch.purge, Retention())
    async with store.reading() as tx:
        kept = list((await tx.execute(select(PaceBudget.key))).scalars())
    assert kept == ["conv:busy"]


class Budgets:
    """The dispatcher's budgets as the store sees them: every row's send spends from one
    thread's budget; the pacing clock is a number the test sets."""

    headroom = 0.25

    def __init__(self, key: str) -> None:
        self.key = key
        self.at = 2_000.0

    def now(self) -> float:
        return self.at

    def claim_for(self, item: OutboxItem) -> Claim | None:
        return Claim(((self.key, THREAD),)) if item.lane != "chat:unknown" else None

    def busy(self) -> bool:
        return False


class Hook:
    """A dispatcher that only keeps what the store hands over."""

    owner = "a"
    lease = LEASE

    def __init__(self, budgets: Budgets) -> None:
        self.budgets = budgets
        self.handed: list[Handover] = []

    def committed(self, handover: Handover) -> None:
        self.handed.append(handover)

    def take_marks(self) -> list[tuple[int, str]]:
        return []

    def give_back_marks(self, marks: list[tuple[int, str]]) -> None:
        raise AssertionError(f"marks {marks} given back: no unit failed")


async def stamps(store: Store, key: str) -> list[float]:
    async with store.reading() as tx:
        found = await tx.scalar(select(PaceBudget.stamps).where(PaceBudget.key == key))
    return json.loads(found or "[]")


async def test_a_queued_send_is_claimed_in_its_own_transaction(
    stores: tuple[Store, Store], database_url: str
) -> None:
    """The unit that queues a line leases it and spends its budget: the dispatcher gets it
    claimed and sends it without a transaction of its own. With the budget spent, the line
    is handed over unclaimed (nothing recorded) and the dispatcher waits for room. On
    PostgreSQL a budget's row is made by the dispatcher's claim (never by a unit, which
    must not wait on another's insert): until then the unit leaves the claim to it."""
    store, _ = stores
    budgets = Budgets("conv:19:room;messageid=7")
    hook = Hook(budgets)
    store.delivery = hook
    if not database_url.startswith("sqlite"):
        await store.notify(["first"], [says(7, "first")])
        assert hook.handed[-1].claimed == set()
        await in_unit(store, dispatch.delivered, [(hook.handed[-1].leased[0].id, None)], "a")
        async with store.unit() as tx:
            await tx.execute(insert(PaceBudget).values(key=budgets.key, stamps="[]"))
    for n in range(8):
        await store.notify([f"line-{n}"], [says(7, f"line {n}")])
        [handover] = hook.handed[-1:]
        [head] = handover.leased
        assert handover.claimed == ({head.id} if n < 7 else set())
        # Marked at once, so the next line is its lane's head again.
        await in_unit(store, dispatch.delivered, [(head.id, None)], "a")
    assert await stamps(store, budgets.key) == [2_000.0] * 7
    # A row whose thread the dispatcher does not know yet is left to it to claim.
    await store.notify(["other"], [Outgoing("chat:unknown", "send", {"activity": {}})])
    assert hook.handed[-1].claimed == set() and len(hook.handed[-1].leased) == 1


async def test_a_unit_never_waits_for_a_budget_another_replica_is_claiming(
    stores: tuple[Store, Store], database_url: str
) -> None:
    """PostgreSQL: while another replica's claim holds a budget's row, a unit that queues
    a line into it leaves the claim to its dispatcher at once (``SKIP LOCKED``) instead of
    queueing behind the lock; and while its own dispatcher is claiming, it does not try."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serializes the writers in the process: no lock to wait for")
    store, other = stores
    budgets = Budgets("conv:19:room;messageid=11")
    hook = Hook(budgets)
    store.delivery = hook
    claim = Claim(((budgets.key, THREAD),))
    async with other.unit() as tx:
        await pacing.claim(tx, [claim], 1_000.0, 0.25)  # the row is made
    async with other.unit() as holding:
        assert await pacing.claim(holding, [claim], 1_001.0, 0.25) == [0.0]
        await asyncio.wait_for(store.notify(["held"], [says(11, "held")]), timeout=5)
        assert hook.handed[-1].claimed == set() and len(hook.handed[-1].leased) == 1
    await in_unit(store, dispatch.delivered, [(hook.handed[-1].leased[0].id, None)], "a")
    budgets.busy = lambda: True  # type: ignore[method-assign]
    await store.notify(["busy"], [says(11, "busy")])
    assert hook.handed[-1].claimed == set()
    assert await stamps(store, budgets.key) == [1_000.0, 1_001.0]


async def test_a_lane_leased_by_the_dispatcher_is_claimed_with_its_lease(
    stores: tuple[Store, Store], database_url: str
) -> None:
    """On both engines, once the budget's row is made."""
    store, _ = stores
    budgets = Budgets("conv:19:room;messageid=8")
    async with store.unit() as tx:
        await tx.execute(insert(PaceBudget).values(key=budgets.key, stamps="[]"))
    claim = Claim(((budgets.key, THREAD),))
    ids = await queue(store, [says(8, "one"), says(8, "two"), says(8, "three")])
    run, claimed = await in_unit(
        store, dispatch.lease_paced, "chat:8", "a", LEASE, budgets, room=64_000, limit=50
    )
    assert [item.id for item in run] == ids
    assert claimed and await stamps(store, budgets.key) == [2_000.0]
    await in_unit(store, dispatch.delivered, [(item.id, None) for item in run], "a")
    # Spent: the next run is leased, its claim left to the dispatcher (which waits).
    async with store.unit() as tx:
        await pacing.claim(tx, [claim] * 6, 2_000.0, 0.25)
    later = await queue(store, [says(8, "four")])
    run, claimed = await in_unit(
        store, dispatch.lease_paced, "chat:8", "a", LEASE, budgets, room=64_000, limit=50
    )
    assert [item.id for item in run] == later and not claimed
    assert await stamps(store, budgets.key) == [2_000.0] * 7
    # Nothing to lease: nothing claimed.
    assert await in_unit(
        store, dispatch.lease_paced, "chat:9", "a", LEASE, budgets, room=64_000, limit=50
    ) == (
        [],
        False,
    )


async def test_sends_that_wait_book_successive_slots(stores: tuple[Store, Store]) -> None:
    """Beyond the budget, each waiting send is given its own later slot (booked), not all
    the same moment: they go one after another without asking again."""
    store, _ = stores
    budget = (("tenant:t", Limits.parse("2/1")),)
    async with store.unit() as tx:
        decided = await dispatch.pace(tx, [Claim(budget)] * 6, 100.0, 0.0, 2.0)
    assert decided[:2] == [(0.0, False), (0.0, False)]
    booked = [wait for wait, is_booked in decided[2:] if is_booked]
    assert booked == [1.0, 1.0, 2.0, 2.0]
    # Beyond ``within`` nothing is booked: the sender asks again later.
    async with store.unit() as tx:
        [(wait, is_booked)] = await dispatch.pace(tx, [Claim(budget)], 100.0, 0.0, 2.0)
    assert wait > 2.0 and not is_booked
