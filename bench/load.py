"""The load generator: N concurrent chats, each sending M messages one after the other.

Every message text carries a unique marker (``bm-<run>-<chat>-<n>``); the connector emulator
notes when an activity containing it arrives, which is how a relayed message is counted and
timed without the bot having to pass anything through.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.connector_emulator import ConnectorEmulator

MARKER_PATTERN = re.compile(r"bm-\d+-\d+-\d+")
# Markers of different runs must never collide: one emulator serves the whole benchmark.
_runs = itertools.count(1)
_ERROR_SAMPLES = 5
_POLL = 0.01

# (chat number, message text) -> the activity to POST
ActivityFactory = Callable[[int, str], dict[str, Any]]


def next_run() -> int:
    return next(_runs)


def marker(run: int, chat: int, n: int) -> str:
    return f"bm-{run}-{chat}-{n}"


def message_text(run: int, chat: int, n: int) -> str:
    """A realistic short customer message with its marker at the end."""
    return f"Hello, question {n + 1} about my order {chat}, please help [{marker(run, chat, n)}]"


@dataclass
class LoadOutcome:
    """What the load generator saw: when each accepted message was sent, and the failures."""

    started: float
    finished: float = 0.0
    sent: dict[str, float] = field(default_factory=dict)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def failed(self, detail: str) -> None:
        self.errors += 1
        if len(self.error_samples) < _ERROR_SAMPLES:
            self.error_samples.append(detail)


async def _post(http: aiohttp.ClientSession, url: str, activity: dict[str, Any]) -> str | None:
    """POST one activity; None when answered 2xx, else what went wrong."""
    try:
        async with http.post(url, json=activity) as response:
            body = await response.read()
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status}: {body[:200]!r}"
    except (aiohttp.ClientError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"


async def _chat(
    http: aiohttp.ClientSession,
    url: str,
    run: int,
    chat: int,
    messages: int,
    activity_for: ActivityFactory,
    outcome: LoadOutcome,
) -> None:
    """One customer: the next message goes out once the previous POST was answered."""
    for n in range(messages):
        activity = activity_for(chat, message_text(run, chat, n))
        sent_at = time.monotonic()
        problem = await _post(http, url, activity)
        if problem is None:
            outcome.sent[marker(run, chat, n)] = sent_at
        else:
            outcome.failed(problem)


async def drive(
    http: aiohttp.ClientSession,
    url: str,
    run: int,
    *,
    chats: int,
    messages: int,
    activity_for: ActivityFactory,
) -> LoadOutcome:
    """Run all chats at once and return when every POST was answered (or failed)."""
    outcome = LoadOutcome(started=time.monotonic())
    await asyncio.gather(
        *(_chat(http, url, run, chat, messages, activity_for, outcome) for chat in range(chats))
    )
    outcome.finished = time.monotonic()
    return outcome


async def wait_arrivals(
    emulator: ConnectorEmulator,
    markers: Collection[str],
    timeout: float,  # noqa: ASYNC109
) -> dict[str, float]:
    """Arrival times of these markers, waiting until all arrived or the time-out passed."""
    deadline = time.monotonic() + timeout
    remaining = set(markers)
    arrivals: dict[str, float] = {}
    while True:
        known = emulator.arrival_times()
        for found in [m for m in remaining if m in known]:
            arrivals[found] = known[found]
            remaining.discard(found)
        if not remaining or time.monotonic() > deadline:
            return arrivals
        await asyncio.sleep(_POLL)
