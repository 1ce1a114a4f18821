"""Delivery at Teams' pace: the connector emulator answers 429 above Teams' limits.

Burst: 5 customers of one department each write 20 lines as fast as the bridge answers
(their chats opened first, not measured), with the limits per reply thread or per
channel. Steady: 50 chats, 40 messages a second spread evenly, limits per reply thread.
Each runs on the bridge as built ("paced") and with pacing and coalescing switched off
(``PACE_DELIVERIES=off``, ``COALESCE_BYTES=0``: how it delivered before, learning the
limits from 429s), so the before and after come from one run on one machine.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import (
    MARKER_PATTERN,
    ActivityFactory,
    LoadOutcome,
    _post,
    drive,
    marker,
    message_text,
    next_run,
    wait_arrivals,
)
from bench.options import Options
from bench.scenarios import progress, setup_room
from bench.servers import bridge_server, running
from bench.stats import percentile
from tests import activities as act
from tests.connector_emulator import ConnectorEmulator
from tests.connector_limits import ThreadLimits

BURST_CHATS = 5
BURST_LINES = 20
STEADY_CHATS = 50
STEADY_RATE = 40.0
STEADY_MESSAGES = 5
# Pacing and coalescing off: the delivery as it was before issue 17.
UNPACED = {"PACE_DELIVERIES": "off", "COALESCE_BYTES": "0"}
QUIET = 0.5


@dataclass(frozen=True)
class PaceFigures:
    """One pace run: what the connector was asked, how often it said 429, how late."""

    phase: str  # burst | steady
    limits: str  # per thread | per channel
    delivery: str  # paced | unpaced
    engine: str
    lines: int
    delivered: int
    once_in_order: bool
    throttled: int
    calls: int
    calls_per_message: float
    last_line_ms: float
    p50_ms: float
    p99_ms: float

    @property
    def label(self) -> str:
        return f"{self.phase}, limits {self.limits}, {self.delivery}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _customers(service_url: str, tag: str) -> ActivityFactory:
    """The same customer for a chat across the opening and the measured lines."""

    def activity_for(chat: int, text: str) -> dict[str, Any]:
        user = f"pace-{tag}-{chat}"
        return act.webchat_message(service_url, user, text, name=f"Customer {chat}", locale="en")

    return activity_for


async def _quiet(emulator: ConnectorEmulator, limit: float = 5.0) -> None:
    """Wait until the bridge stopped calling (trailing notices, repeats) for ``QUIET``."""
    deadline = time.monotonic() + limit
    seen = emulator.requests
    while time.monotonic() < deadline:
        await asyncio.sleep(QUIET)
        if emulator.requests == seen:
            return
        seen = emulator.requests


def _once_in_order(emulator: ConnectorEmulator, run: int, chats: int, lines: int) -> bool:
    """Every line of the run in exactly one successful call, each chat's in order."""
    found: dict[int, list[int]] = {chat: [] for chat in range(chats)}
    prefix = f"bm-{run}-"
    for call in emulator.calls:
        if call.status >= 300 or call.body is None or call.method != "POST":
            continue
        for seen in MARKER_PATTERN.findall(json.dumps(call.body)):
            if seen.startswith(prefix):
                _, _, chat, n = seen.split("-")
                found[int(chat)].append(int(n))
    return all(numbers == list(range(lines)) for numbers in found.values())


def _figures(
    phase: str,
    limits: ThreadLimits,
    delivery: str,
    engine: str,
    emulator: ConnectorEmulator,
    run: int,
    outcome: LoadOutcome,
    arrivals: dict[str, float],
    counts: tuple[int, int],
    shape: tuple[int, int],
) -> PaceFigures:
    chats, lines = shape
    requests, throttled = counts
    latencies = [(arrivals[m] - at) * 1000 for m, at in outcome.sent.items() if m in arrivals]
    last = [marker(run, chat, lines - 1) for chat in range(chats)]
    last_ms = [(arrivals[m] - outcome.sent[m]) * 1000 for m in last if m in arrivals]
    total = chats * lines
    calls = emulator.requests - requests
    return PaceFigures(
        phase=phase,
        limits="per channel" if limits.per_channel else "per thread",
        delivery=delivery,
        engine=engine,
        lines=total,
        delivered=len(latencies),
        once_in_order=_once_in_order(emulator, run, chats, lines),
        throttled=limits.throttled - throttled,
        calls=calls,
        calls_per_message=calls / total,
        last_line_ms=max(last_ms) if len(last_ms) == chats else float("nan"),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
    )


async def _steady_load(
    http: aiohttp.ClientSession,
    url: str,
    run: int,
    activity_for: ActivityFactory,
    *,
    chats: int,
    messages: int,
    rate: float,
) -> LoadOutcome:
    """Open loop: message k of the whole load leaves at k / rate, chats taking turns."""
    outcome = LoadOutcome(started=time.monotonic())

    async def one(k: int) -> None:
        chat, n = k % chats, k // chats
        await asyncio.sleep(max(0.0, outcome.started + k / rate - time.monotonic()))
        sent_at = time.monotonic()
        problem = await _post(http, url, activity_for(chat, message_text(run, chat, n)))
        if problem is None:
            outcome.sent[marker(run, chat, n)] = sent_at
        else:
            outcome.failed(problem)

    await asyncio.gather(*(one(k) for k in range(chats * messages)))
    outcome.finished = time.monotonic()
    return outcome


Load = Callable[[aiohttp.ClientSession, str, int, ActivityFactory], Awaitable[LoadOutcome]]


async def _pace_run(
    options: Options,
    http: aiohttp.ClientSession,
    workdir: Path,
    database_url: str,
    *,
    phase: str,
    per_channel: bool,
    paced: bool,
    shape: tuple[int, int],
    load: Load,
) -> PaceFigures:
    chats = shape[0]
    limits = ThreadLimits(per_channel=per_channel)
    emulator = ConnectorEmulator(
        latency=options.latency, record=True, marker_pattern=MARKER_PATTERN, limits=limits
    )
    await emulator.start()
    env = {"PACE_PER_CHANNEL": "on" if per_channel else "off", **({} if paced else UNPACED)}
    engine = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    delivery = "paced" if paced else "unpaced"
    label = f"pace-{phase}-{'channel' if per_channel else 'thread'}-{delivery}-{engine}"
    server = bridge_server(database_url, workdir, label, env=env)
    try:
        async with running(server):
            await setup_room(http, server, emulator)
            customers = _customers(emulator.url, label)
            opening = next_run()
            opened = await drive(
                http, server.messages_url, opening, chats=chats, messages=1, activity_for=customers
            )
            await wait_arrivals(emulator, opened.sent, options.arrival_timeout)
            await _quiet(emulator)
            counts = (emulator.requests, limits.throttled)
            run = next_run()
            outcome = await load(http, server.messages_url, run, customers)
            arrivals = await wait_arrivals(emulator, outcome.sent, options.arrival_timeout)
            await _quiet(emulator)
    finally:
        await emulator.stop()
    result = _figures(
        phase, limits, delivery, engine, emulator, run, outcome, arrivals, counts, shape
    )
    progress(
        f"  {result.label:<40} {result.engine:<10} 429s {result.throttled:4}  "
        f"calls/msg {result.calls_per_message:5.2f}  last line {result.last_line_ms:7.0f} ms  "
        f"p50 {result.p50_ms:5.0f} ms  p99 {result.p99_ms:7.0f} ms  "
        f"once in order {result.once_in_order}"
    )
    return result


async def pace_runs(
    options: Options,
    http: aiohttp.ClientSession,
    workdir: Path,
    database_url: Callable[[str], Awaitable[str]],
    into: list[PaceFigures],
) -> None:
    """Burst per thread, per channel, and steady; each unpaced, then paced."""

    async def burst_load(
        http: aiohttp.ClientSession, url: str, run: int, customers: ActivityFactory
    ) -> LoadOutcome:
        return await drive(
            http, url, run, chats=BURST_CHATS, messages=BURST_LINES, activity_for=customers
        )

    async def steady_load(
        http: aiohttp.ClientSession, url: str, run: int, customers: ActivityFactory
    ) -> LoadOutcome:
        return await _steady_load(
            http,
            url,
            run,
            customers,
            chats=STEADY_CHATS,
            messages=STEADY_MESSAGES,
            rate=STEADY_RATE,
        )

    plans: list[tuple[str, bool, tuple[int, int], Load]] = [
        ("burst", False, (BURST_CHATS, BURST_LINES), burst_load),
        ("burst", True, (BURST_CHATS, BURST_LINES), burst_load),
        ("steady", False, (STEADY_CHATS, STEADY_MESSAGES), steady_load),
    ]
    for phase, per_channel, shape, load in plans:
        if f"{phase}-{'channel' if per_channel else 'thread'}" not in options.pace_plans:
            continue
        for n, paced in enumerate((False, True) * options.pace_repeat):
            url = await database_url(f"{phase}-{per_channel}-{paced}-{n // 2}")
            into.append(
                await _pace_run(
                    options,
                    http,
                    workdir,
                    url,
                    phase=phase,
                    per_channel=per_channel,
                    paced=paced,
                    shape=shape,
                    load=load,
                )
            )
