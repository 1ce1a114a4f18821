"""The outbox dispatcher: delivers what the store queued, in order, at least once.

A committed transition announces the lanes it wrote to (``kick``); each lane is
drained by one task that leases the lane's oldest pending item, sends it through
the connector and records the outcome. A periodic sweep picks up what is due
again after a back-off, what another replica left behind, and what was pending
when the process restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from bot.backoff import Backoff
from bot.channels import Channels, ReplyRefused
from bot.firstbot import FirstBot as BotEvents
from bot.handoffs import Handoffs
from bot.hook import CommitHook
from bot.mail import REFUSED, Mailer
from bot.marks import Marks, Thread
from bot.metrics import Metrics
from bot.pacing import RUN_ROWS, PaceLimits, Pacer, paced
from bot.posting import post
from bot.sdk import DeliveryError
from bot.threads import ThreadMissing, Threads
from bot.timers import first_of
from store import Store, dispatch, trace
from store.core import Retention
from store.dispatch import Leasing
from store.handover import Handover
from store.models import OutboxItem
from store.outbox import activity_size, author
from store.vocabulary import OutboxKind

log = logging.getLogger(__name__)


PURGE_EVERY = 60.0
# How many sweep intervals an idle dispatcher sleeps between looks at the database when
# nothing is due: commits of this replica hand their rows over, other replicas' rows are
# announced by PostgreSQL's notifications, so the sweep is only the safety net.
IDLE_SWEEPS = 30

# Longest a delivery's mark waits to ride with another unit of work (``bot/marks.py``):
# a customer's next line usually comes sooner, and a replica that stops meanwhile sends
# the rows again (delivery is at least once, each post carrying its rows' ids).
MARK_DELAY = 0.25


class Dispatcher:
    def __init__(
        self,
        store: Store,
        channels: Channels,
        hook: CommitHook,
        *,
        concurrency: int = 64,
        sweep_interval: float = 0.5,
        send_margin: float = 16.0,
        base_delay: float = 0.5,
        max_delay: float = 60.0,
        max_age: timedelta = timedelta(hours=24),
        retention: Retention | None = None,
        metrics: Metrics | None = None,
        pace: PaceLimits | None = None,
        pace_clock: Callable[[], float] = time.time,
        coalesce_bytes: int = 0,
        mailer: Mailer | None = None,
        first_bot: BotEvents | None = None,
    ) -> None:
        """``hook``: the store's post-commit hook, made before the store and this
        dispatcher (see :class:`CommitHook`); rows are leased under its owner and lease.
        ``pace``: the budgets to keep before each send (None: learn them from 429s);
        ``coalesce_bytes``: how big one post of several waiting lines may grow (0: never);
        ``mailer``: sends the ``email`` rows (None: they fail, told to the agents);
        ``first_bot``: sends the ``bot_event`` rows to the company's bot (None: they fail)."""
        self.owner = hook.owner
        self._metrics = metrics or Metrics()
        # When the sweep last read the database; /readyz calls the loop dead when it is old.
        self.last_sweep: float | None = None
        self._store = store
        # Each send goes through the channel of its target (``bot/channels``).
        self._channels = channels
        self._slots = asyncio.Semaphore(concurrency)
        self._sweep_interval = sweep_interval
        self._idle_sweep = sweep_interval * IDLE_SWEEPS
        # Set to sweep at once (a notification without lanes); the loop's next planned look.
        self._wake = asyncio.Event()
        self._next_look: float | None = None
        self.lease = hook.lease
        self._send_margin = send_margin
        self._backoff = Backoff(base_delay, max_delay)
        self._max_age = max_age
        self._retention = retention or Retention()
        # Deliveries given up after ``max_age`` of failures (for the logs and metrics).
        self.given_up = 0
        self._lanes: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        # Lanes someone said have more while their mark was unwritten (their head still
        # leased to us, so no lease of theirs could succeed): asked for once it commits.
        self._after: set[str] = set()
        # Runs leased for a lane by commits or with its last mark, ready to send.
        self._handoff = Handoffs()
        # Heads whose budgets were claimed with their lease.
        self._claimed: set[int] = set()
        self._stopping = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._high_water = concurrency
        self._threads = Threads(store)
        book = sweep_interval * 4  # the longest wait for a slot spent in the process
        self._pacer = Pacer(store, pace, self._threads, pace_clock, book) if pace else None
        limit = RUN_ROWS if coalesce_bytes else 1
        self._leasing = Leasing(self.owner, self.lease, coalesce_bytes, limit)
        self._marks = Marks(store, self._leasing, self._pacer, delay=MARK_DELAY)
        self._coalesce_bytes = coalesce_bytes
        self._mailer = mailer
        self._first_bot = first_bot
        # Rows of a post that failed and must be repeated as it was (lane -> its rows).
        self._repeats: dict[str, frozenset[int]] = {}
        hook.attach(self)

    @property
    def budgets(self) -> Pacer | None:
        """What the store claims a handed-over send's budgets with (None: unpaced)."""
        return self._pacer

    def take_marks(self) -> list[tuple[int, str]]:
        """Delivered rows whose marks wait to ride with a unit of work (see ``Marks``)."""
        return self._marks.take()

    def give_back_marks(self, marks: list[tuple[int, str]]) -> None:
        self._marks.give_back(marks)

    def committed(self, handover: Handover) -> None:
        """A transaction queued rows or wrote our marks: send the heads it leased for us
        now (on SQLite their budgets claimed, most of the time), look up lanes with rows
        it added behind a head that was busy, and those told of while their mark waited."""
        self._marks.written(handover.marked)
        if self._stopping.is_set():
            return
        for item in handover.leased:
            self._handoff.put([item])
        self._claimed.update(handover.claimed)
        for lane in {item.lane for item in handover.leased}:
            if lane not in self._lanes:
                self._start(lane)
        self.kick(handover.unleased)
        told = {lane for lane in self._after if not self._marks.pending(lane)}
        self._after -= told
        self.kick(told)
        if handover.unleased:
            # Rows nobody could lease now (behind a busy head, or due later: a mail that
            # waits for more replies): the sweep plans its next look with them.
            self._wake.set()

    def kick(self, lanes: Iterable[str]) -> None:
        """Start draining these lanes now, or tell a running drain to look again."""
        if self._stopping.is_set():
            return
        for lane in lanes:
            if self._marks.pending(lane):
                # Its head stays ours until the mark commits: a lease now would fail, and
                # what it was told would be lost. Asked for after the mark (``committed``).
                self._after.add(lane)
            elif lane in self._lanes:
                self._again.add(lane)
            else:
                self._start(lane)

    def _start(self, lane: str) -> None:
        self._lanes[lane] = asyncio.get_running_loop().create_task(self._drain(lane))
        if len(self._lanes) >= self._high_water:
            self._room.clear()

    async def room(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait (at most ``timeout``) while more lanes are busy than can be sent at once.

        The HTTP answer to an inbound activity waits here, so a sender that goes
        faster than the bridge can relay is slowed at the door instead of growing a
        backlog whose latency nobody sees; nothing is refused and nothing waits long.
        """
        if not self._room.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), timeout)

    async def run(self) -> None:
        """Sweep for due items until closed; now and then, drop old delivered rows.

        The sweep reads the due lanes and when the next pending row becomes due in one
        transaction, and sleeps until then (at most ``IDLE_SWEEPS`` intervals), unless a
        notification wakes it: an idle replica touches the database every few seconds
        only, and a retry still goes when it is due."""
        last_purge = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            self._wake.clear()
            wait = self._idle_sweep
            try:
                async with self._store.reading() as tx:
                    lanes = await dispatch.due_lanes(tx)
                    due = await dispatch.next_due(tx)
                self.kick(lanes)
                self.last_sweep = loop.time()
                if due is not None:
                    ahead = (due - self._store.clock()).total_seconds()
                    wait = min(wait, max(ahead, self._sweep_interval))
                if loop.time() - last_purge > PURGE_EVERY:
                    last_purge = loop.time()
                    async with self._store.unit() as tx:
                        await dispatch.purge(tx, self._retention)
            except Exception:
                log.exception("outbox sweep failed; trying again")
                wait = self._sweep_interval
            self._next_look = loop.time() + wait
            await first_of(self._stopping, self._wake, timeout=wait)

    def heard(self, payload: str) -> None:
        """Rows were added that nobody leased (another replica's, or this one's behind a
        busy head): start those lanes, or sweep when the notification names none."""
        lanes = [lane for lane in payload.split("\n") if lane]
        if lanes:
            self.kick(lanes)
        else:
            self._wake.set()

    async def close(self, grace: float) -> None:
        """Let sends in flight finish and be recorded, then stop.

        Cancelling a lane in the middle of a database call would leave a SQLite
        write lock to time out, and a send whose outcome is not recorded is sent
        again by whoever takes the lane next; so lanes stop between items.
        """
        self._stopping.set()
        tasks = list(self._lanes.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            for task in late:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            await self._marks.flush()
        except Exception:
            log.exception("delivery marks could not be written; those rows go again")

    async def _drain(self, lane: str) -> None:
        try:
            # A lane started for a handed-over item asks the database for more only when
            # told there is more (``_again``); rows another replica adds are found by the
            # sweep.
            look = lane not in self._handoff
            while not self._stopping.is_set():
                async with self._slots:
                    run = self._handed_over(lane)
                    # Rows found in the database may have more behind them; a handed-over
                    # head has more only if a commit said so.
                    look = not run and (look or lane in self._again)
                    if look:
                        self._again.discard(lane)
                        run = await self._lease(lane)
                    if not run:
                        if lane in self._again or lane in self._handoff:
                            continue
                        return
                run = await self._paced(run)
                if not run:
                    return
                async with self._slots:
                    # A run handed over has nothing known behind it: its mark may wait.
                    retry_in = await self._deliver(run, wait=not look)
                if retry_in is not None:
                    # The lane is blocked until its head goes through: wait here (order is kept)
                    # unless it is long, then leave it to the sweep.
                    if retry_in > self._sweep_interval * 4:
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), retry_in)
                    look = True
        except Exception:
            log.exception("delivery of lane %s failed; the sweep will retry", lane)
            # What it held stays leased until the lease runs out: the sweep plans for that.
            self._wake.set()
        finally:
            self._lanes.pop(lane, None)
            if len(self._lanes) < self._high_water:
                self._room.set()

    def _handed_over(self, lane: str) -> list[OutboxItem]:
        """The next run leased for this lane by a commit or a mark whose lease is still
        good for a send. One that is not stays ours until its lease runs out: the sweep is
        told, so it looks again then rather than after an idle sleep."""
        while run := self._handoff.take(lane):
            if self._usable(run[0]) is not None:
                return run
            self._claimed.discard(run[0].id)
            self._wake.set()
        return []

    async def _lease(self, lane: str) -> list[OutboxItem]:
        """The lane's head, with the lines of its author waiting behind it when posts may
        carry several (a failed post is repeated with the same rows); paced, the store
        claims its budgets in the same transaction where that is cheap (SQLite)."""
        if self._marks.pending(lane):
            # Its head is delivered and not marked yet: the marks' unit leases what follows.
            await self._marks.flush()
            if run := self._handed_over(lane):
                return run
            if self._marks.pending(lane):
                self._after.add(lane)  # riding with a unit still under way: asked after it
                return []
        async with self._store.unit() as tx:
            runs, claimed = await dispatch.lease_runs(
                tx, [lane], self._leasing, self._pacer, only=self._repeats.get(lane)
            )
        run = runs.get(lane, [])
        if run and run[0].id in claimed:
            self._claimed.add(run[0].id)
        return run

    async def _paced(self, run: list[OutboxItem]) -> list[OutboxItem]:
        """Wait until every budget the send spends from has room; [] if it would wait
        longer than a lease should be held (the rows are given back, due then).

        While it waits, lines of the same author that arrive join the post, which is
        how a backed-up lane ends with fewer posts; a repeat keeps its rows.
        """
        if self._pacer is None:
            return run
        head = run[0]
        if head.id in self._claimed:
            self._claimed.discard(head.id)
            return run  # claimed with its lease: the usual case at a normal pace
        target = await self._threads.target(head)
        if target is None or not paced(target):
            return run
        words = author(head.kind, head.payload) is not None
        claim = self._pacer.claim(target, head)
        while True:
            try:
                wait, booked = await self._pacer.wait(claim)
            except Exception:
                # The budgets are advice: unread, the send goes and a 429 is honoured.
                log.exception("pacing of %s failed; sending unpaced", head.lane)
                return run
            if wait <= 0:
                return run
            # Waiting is short, and never so long that the lease could run out before the
            # send ends (another replica would then send the same rows).
            stop = (
                self._stopping.is_set()
                or wait > self._sweep_interval * 4
                or self._usable(head, wait) is None
            )
            if not stop:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), wait + 0.002)
                stop = self._stopping.is_set()
            if stop:
                async with self._store.unit() as tx:
                    await dispatch.retry_later(
                        tx,
                        [i.id for i in run],
                        self.owner,
                        0 if self._stopping.is_set() else wait,
                        None,
                        attempted=False,
                    )
                self._wake.set()  # the sweep plans its next look with the given-back rows
                return []
            room = self._coalesce_bytes - sum(activity_size(i.payload) for i in run)
            if words and head.lane not in self._repeats and room > 0 and len(run) < RUN_ROWS:
                async with self._store.unit() as tx:
                    run += await dispatch.lease_more(
                        tx, run[-1], self.owner, self.lease, room=room, limit=RUN_ROWS - len(run)
                    )
            if booked:
                return run  # its slot was booked for now: the post goes without asking

    def _usable(self, item: OutboxItem | None, wait: float = 0.0) -> OutboxItem | None:
        """A leased item, unless its lease could run out before a send ``wait`` seconds
        from now ends."""
        if item is None or item.lease_until is None:
            return None
        margin = timedelta(seconds=self._send_margin + wait)
        return item if item.lease_until - margin > self._store.clock() else None

    def alive(self, within: float) -> bool:
        """Whether the sweep ran when it planned to, give or take ``within`` seconds (the
        delivery loop lives; an idle one sleeps long on purpose)."""
        if self._stopping.is_set() or self.last_sweep is None or self._next_look is None:
            return False
        return asyncio.get_running_loop().time() <= self._next_look + within

    async def _deliver(self, run: list[OutboxItem], wait: bool = False) -> float | None:
        """Send one post (one row, or several lines of one author) and record the outcome
        of all its rows together; returns the retry delay if the lane must wait. ``wait``:
        its mark may wait to ride with a unit of work when nothing is known behind it."""
        item = run[0]
        ids = [i.id for i in run]
        trace.begin(f"ob-{item.id}", item.kind, item.payload.get("chat_id"))
        try:
            thread = await self._post(run)
        except ReplyRefused as refused:
            self._metrics.delivery("failed", None, item.attempts)
            log.warning("outbox items %s refused by the channel: %s", ids, refused)
            await self._settle_refused(item, ids, refused)
            return None
        except DeliveryError as error:
            self._metrics.delivery(
                "retry" if error.retryable else "failed", error.status, item.attempts
            )
            if not error.retryable:
                log.warning("outbox items %s refused for good: %s", ids, error)
                await self._settle_failed(item.lane, ids, str(error), item)
                return None
            if self._store.clock() - item.created_at > self._max_age:
                self.given_up += 1
                log.error(
                    "outbox items %s still failing after %s; given up: %s",
                    ids,
                    self._max_age,
                    error,
                )
                await self._settle_failed(item.lane, ids, f"given up: {error}", item)
                return None
            delay = self._backoff.delay(item.attempts, error)
            log.info("outbox items %s failed (%s); retrying in %.2fs", ids, error, delay)
            return await self._again_later(run, delay, str(error))
        except ThreadMissing as error:
            self._metrics.delivery("failed", None, item.attempts)
            await self._settle_failed(item.lane, ids, str(error))
            return None
        except Exception as error:
            # Not a connector answer (a bug, an unreadable reply): retry later, never drop.
            log.exception("outbox items %s failed unexpectedly", ids)
            self._metrics.delivery("retry", None, item.attempts)
            delay = self._backoff.delay(item.attempts, DeliveryError(None, repr(error)[:300]))
            return await self._again_later(run, delay, repr(error)[:300])
        self._metrics.delivery("delivered", "2xx", item.attempts)
        await self._mark(item, ids, thread, wait)
        return None

    async def _mark(
        self, item: OutboxItem, ids: list[int], thread: Thread | None, wait: bool = False
    ) -> None:
        """Record a post's rows delivered; with a lane a commit said has more, lease its
        next run in the same transaction."""
        # The lane must not go on before its head is marked (the next row is not the head
        # until then); lanes that finish together share the commit, which also leases the
        # next head of a lane a commit said has more.
        more = item.lane in self._again
        self._again.discard(item.lane)
        if wait and not more and thread is None and item.lane not in self._handoff:
            # Nothing known behind it, nothing to record: the lane need not wait for the
            # mark, which rides with this replica's next unit (``bot/marks.py``).
            self._marks.later(ids, item.lane)
            self._repeats.pop(item.lane, None)
            return
        marked = await self._marks.delivered(ids, thread, item.lane if more else None)
        self._repeats.pop(item.lane, None)
        if marked.following:
            self._handoff.put(marked.following)
            self._again.add(item.lane)  # more may wait behind it: ask with its mark
            if marked.claimed:
                self._claimed.add(marked.following[0].id)
        elif more and item.lane in self._handoff:
            # Its next head is a run of ours handed over already (two units leased at
            # once): what waits behind that one is still to ask for with its mark.
            self._again.add(item.lane)
        if thread is not None and marked.ours:
            # The thread is known before anyone reads it back: the chat's next lines can be
            # claimed with their lease.
            self._threads.posted(thread[0], item.payload["room"], thread[1], thread[2])

    async def _post(self, run: list[OutboxItem]) -> Thread | None:
        """One post through the connector, or a mail (an ``email`` row goes alone)."""
        if run[0].kind == OutboxKind.EMAIL:
            if self._mailer is None:
                raise DeliveryError(REFUSED, "mail is not configured (SMTP_HOST is empty)")
            await self._mailer.deliver(run[0])
            return None
        if run[0].kind == OutboxKind.BOT_EVENT:
            if self._first_bot is None:
                raise DeliveryError(REFUSED, "no bot answers first (FIRST_BOT_SECRET is empty)")
            await self._first_bot.deliver(run[0])
            return None
        return await post(self._channels, self._threads, run)

    async def _again_later(self, run: list[OutboxItem], delay: float, error: str) -> float:
        """Give the rows back until ``delay``; the post is remembered, so the next attempt
        carries the same rows (and delivery ids) as this one, however many wait behind."""
        self._repeats[run[0].lane] = frozenset(i.id for i in run)
        async with self._store.unit() as tx:
            await dispatch.retry_later(tx, [i.id for i in run], self.owner, delay, error)
        self._wake.set()  # the sweep plans its next look with the retry
        return delay

    async def _settle_refused(
        self, item: OutboxItem, ids: list[int], refused: ReplyRefused
    ) -> None:
        """A channel refused a reply for a reason the agents can act on: the rows are
        settled as failed and the agents told in the chat's thread, in one unit."""
        self._repeats.pop(item.lane, None)
        async with self._store.unit() as tx:
            await dispatch.undeliverable(tx, ids, self.owner, str(refused))
            tx.enqueue(await self._channels.refusal_notice(tx, item.payload, refused))

    async def _settle_failed(
        self, lane: str, ids: list[int], error: str, item: OutboxItem | None = None
    ) -> None:
        self._repeats.pop(lane, None)
        async with self._store.unit() as tx:
            await dispatch.undeliverable(tx, ids, self.owner, error)
        if item is not None and item.kind == OutboxKind.EMAIL and self._mailer is not None:
            try:
                await self._mailer.failed(item, error)
            except Exception:
                log.exception("telling the agents that mail %s failed did not work", item.id)
