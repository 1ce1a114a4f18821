"""Sending at Teams' pace: which budgets a send spends from, and one post for many lines.

Teams answers 429 above its limits (per thread, per app in a tenant); learning them from
the 429s costs a failed call, a back-off and the order of everything behind it. The
dispatcher asks first: each send claims a slot in every budget it spends from, decided
in the database (``store.pacing``) so that replicas share the budgets, and waits when
there is none. On SQLite a send the store hands over is claimed in the transaction that
queued it (``store.handover``, through :meth:`Pacer.claim_for`), so at a normal pace
pacing costs two statements in a transaction that runs anyway; the others (every send,
on PostgreSQL) claim here, those of one moment in one transaction, the way delivery
marks are grouped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.settings import Settings
from bot.threads import Threads
from store import dispatch
from store.channels import facts
from store.models import OutboxItem
from store.outbox import author
from store.pacing import Claim, Limits
from store.vocabulary import THREAD_MARK, OutboxKind

log = logging.getLogger(__name__)

DELIVERY_KEY = "bridgeDeliveryId"
# Every row a coalesced post carries, so each line's repeat is recognisable on its own.
DELIVERY_KEYS = "bridgeDeliveryIds"
# Most rows one post carries (with ``coalesce_bytes``, the size of their activities).
RUN_ROWS = 50


def paced(reference: dict[str, Any]) -> bool:
    """Whether a send to this conversation keeps Teams' limits: only Teams conversations
    (rooms, threads, personal chats); a Web Chat or Zalo customer is not held to them."""
    return facts(str(reference.get("channelId") or "")).paced


class PaceStore(Protocol):
    async def pace(self, claims: Sequence[Claim], now: float, headroom: float) -> list[float]: ...


@dataclass(frozen=True)
class PaceLimits:
    """Teams' documented limits, from the settings: per conversation (a reply thread, a
    chat, a channel's root), optionally per channel for all of its threads together, and
    per app in a tenant. ``headroom`` is the share of each window kept for customers'
    words when a budget is short (card updates and notices do not take it)."""

    thread: Limits
    tenant: Limits
    per_channel: bool
    headroom: float

    @classmethod
    def from_settings(cls, settings: Settings) -> PaceLimits | None:
        if not settings.pace_deliveries:
            return None
        return cls(
            thread=Limits.parse(settings.pace_thread_limits, settings.pace_margin),
            # Not widened: 40 sends a second would then fill 50 in 1.1 s, and a slot lost
            # at a thread's edge matters, one at the tenant's (50 a second) does not.
            tenant=Limits.parse(settings.pace_tenant_limits),
            per_channel=settings.pace_per_channel,
            headroom=settings.pace_headroom,
        )

    def budgets(self, reference: dict[str, Any]) -> tuple[tuple[str, Limits], ...]:
        """The budgets a send to this conversation spends from.

        A Teams thread's id is its channel's id, ``;messageid=``, and the root post's id;
        the channel's budget is the one a post into the channel's root spends from.
        """
        conversation = reference.get("conversation")
        conversation = conversation if isinstance(conversation, dict) else {}
        conversation_id = str(conversation.get("id") or "")
        found: list[tuple[str, Limits]] = [(f"conv:{conversation_id}", self.thread)]
        if self.per_channel and THREAD_MARK in conversation_id:
            channel = conversation_id.split(THREAD_MARK, 1)[0]
            found.append((f"conv:{channel}", self.thread))
        tenant = conversation.get("tenantId")
        if isinstance(tenant, str) and tenant and self.tenant.windows:
            found.append((f"tenant:{tenant}", self.tenant))
        return tuple(found)


class Pacer:
    """Claims of concurrent sends, decided together; each learns when it may go.

    It is also the store's view of the budgets (``store.handover.SendBudgets``): the
    claim of a row it hands over, when the row's thread is known without a query.
    """

    def __init__(
        self,
        store: PaceStore,
        limits: PaceLimits,
        threads: Threads,
        clock: Callable[[], float] = time.time,
        book_within: float = 0.0,
    ) -> None:
        """``book_within``: a send that must wait at most this long books its slot (the
        dispatcher waits that long in the process; longer, it gives the rows back)."""
        self.limits = limits
        self._store = store
        self._threads = threads
        self._clock = clock
        self._book_within = book_within
        self._queue: list[tuple[Claim, asyncio.Future[tuple[float, bool]]]] = []
        self._claiming: asyncio.Task[None] | None = None

    @property
    def headroom(self) -> float:
        return self.limits.headroom

    def now(self) -> float:
        return self._clock()

    def busy(self) -> bool:
        """Whether a grouped claim is under way or waiting to start (then a unit of work
        leaves its sends' claims to it: see ``store.handover.claim_budgets``)."""
        return bool(self._queue) or (self._claiming is not None and not self._claiming.done())

    def claim(self, reference: dict[str, Any], item: OutboxItem) -> Claim:
        """The claim of ``item``'s send to ``reference``: card updates, notices and typing
        indicators are low (customers' and agents' lines and new cards are not)."""
        words = author(item.kind, item.payload) is not None
        low = not words and item.kind != OutboxKind.CREATE_THREAD
        return Claim(self.limits.budgets(reference), low=low)

    def claim_for(self, item: OutboxItem) -> Claim | None:
        """The claim of a row being handed over, if its thread is known here (else None,
        and the dispatcher claims); it runs inside a unit of work, which a bad payload
        must not fail: the budgets are advice."""
        try:
            target = self._threads.known_target(item)
            return self.claim(target, item) if target is not None and paced(target) else None
        except Exception:
            log.exception("no claim for outbox item %s; the dispatcher will claim", item.id)
            return None

    async def wait(self, claim: Claim) -> tuple[float, bool]:
        """(0, False): the send is counted, go now; (wait, True): it is counted at that
        moment, go then; (wait, False): ask again after waiting."""
        done: asyncio.Future[tuple[float, bool]] = asyncio.get_running_loop().create_future()
        self._queue.append((claim, done))
        if self._claiming is None or self._claiming.done():
            self._claiming = asyncio.create_task(self._claim_all())
        return await done

    async def _claim_all(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                async with self._store.unit() as tx:
                    waits = await dispatch.pace(
                        tx,
                        [claim for claim, _ in batch],
                        self._clock(),
                        self.limits.headroom,
                        self._book_within,
                    )
            except Exception as error:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                for (_, done), wait in zip(batch, waits, strict=True):
                    if not done.done():
                        done.set_result(wait)


def with_delivery_keys(activity: dict[str, Any], item_ids: Sequence[int]) -> dict[str, Any]:
    """Stamp an activity with the outbox ids it carries, the same on every attempt.

    Delivery is at least once: if the connector took a message but its answer was
    lost (a time-out, a crash before the outcome was recorded), the retry carries
    the same keys, so a receiver or an audit can tell the repeat from a new message.
    ``bridgeDeliveryId`` names the first row; a post of several rows lists them all.
    """
    channel_data = activity.get("channelData")
    channel_data = dict(channel_data) if isinstance(channel_data, dict) else {}
    channel_data[DELIVERY_KEY] = f"ob-{item_ids[0]}"
    if len(item_ids) > 1:
        channel_data[DELIVERY_KEYS] = [f"ob-{item_id}" for item_id in item_ids]
    return {**activity, "channelData": channel_data}


def coalesced(activities: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One activity for consecutive lines of one author: each line its own paragraph
    (as it was written), every attachment and mention kept."""
    if len(activities) == 1:
        return activities[0]
    # Typing indicators that waited between the lines have nothing to add.
    activities = [a for a in activities if a.get("type") != "typing"] or list(activities[:1])
    texts = [str(a["text"]) for a in activities if a.get("text")]
    merged: dict[str, Any] = {**activities[0], "text": "\n\n".join(texts)}
    attachments = [x for a in activities for x in a.get("attachments") or []]
    entities = [x for a in activities for x in a.get("entities") or []]
    for name, values in (("attachments", attachments), ("entities", entities)):
        if values:
            merged[name] = values
        else:
            merged.pop(name, None)
    return merged
