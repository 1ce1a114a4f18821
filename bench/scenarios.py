"""One measured run against one server: prepare, warm up, load, wait for arrivals, compute.

The echo bot and the bridge go through exactly the same steps with the same load generator;
only the activity they are sent and (for the bridge) the room setup differ.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bench.load import ActivityFactory, LoadOutcome, drive, next_run, wait_arrivals
from bench.monitor import ResourceMonitor
from bench.options import Options
from bench.seed import SUPERVISOR
from bench.servers import ServerProcess
from bench.stats import Figures, RunShape, figures
from tests import activities as act
from tests.connector_emulator import ConnectorEmulator

WARMUP_MESSAGES = 2
SETUP_TIMEOUT = 15.0


def customer_activities(service_url: str, run: int) -> ActivityFactory:
    """Web Chat customers, one per chat, new users in every run."""

    def activity_for(chat: int, text: str) -> dict[str, Any]:
        return act.webchat_message(
            service_url, f"bench-{run}-{chat}", text, name=f"Customer {chat}", locale="en-US"
        )

    return activity_for


async def setup_room(
    http: aiohttp.ClientSession, server: ServerProcess, emulator: ConnectorEmulator
) -> None:
    """``@Bot setup`` in the room, then wait until the bridge's answer reached the connector."""
    before = emulator.delivered_count()
    activity = act.room_message(emulator.url, SUPERVISOR, "setup")
    async with http.post(server.messages_url, json=activity) as response:
        body = await response.text()
        if response.status != 201:
            raise RuntimeError(f"setup answered {response.status}: {body[:300]}")
    await emulator.wait_for(lambda: emulator.delivered_count() > before, timeout=SETUP_TIMEOUT)


async def _load(
    http: aiohttp.ClientSession,
    server: ServerProcess,
    emulator: ConnectorEmulator,
    options: Options,
    *,
    chats: int,
    messages: int,
) -> tuple[LoadOutcome, dict[str, float]]:
    run = next_run()
    outcome = await drive(
        http,
        server.messages_url,
        run,
        chats=chats,
        messages=messages,
        activity_for=customer_activities(emulator.url, run),
    )
    arrivals = await wait_arrivals(emulator, outcome.sent, options.arrival_timeout)
    return outcome, arrivals


async def measure(
    http: aiohttp.ClientSession,
    server: ServerProcess,
    emulator: ConnectorEmulator,
    options: Options,
    shape: RunShape,
    prepare: Callable[[], Awaitable[None]] | None = None,
) -> Figures:
    """Warm up (first-call costs are not what a long-running server pays), then measure."""
    if prepare is not None:
        await prepare()
    if options.warmup_chats:
        await _load(
            http, server, emulator, options, chats=options.warmup_chats, messages=WARMUP_MESSAGES
        )
    monitor = ResourceMonitor(server.pid, watch_postgres=shape.engine == "postgresql")
    monitor.start()
    try:
        outcome, arrivals = await _load(
            http, server, emulator, options, chats=shape.chats, messages=shape.messages
        )
    finally:
        await monitor.stop()
    result = figures(shape, outcome, arrivals, monitor)
    _warn(result, outcome.error_samples)
    return result


def _warn(result: Figures, samples: list[str]) -> None:
    """Lost or refused messages are the one thing a benchmark must never hide."""
    if result.missing:
        print(
            f"\n!!!!! {result.label}: {result.missing} of {result.accepted} accepted messages "
            "NEVER ARRIVED at the connector !!!!!\n",
            flush=True,
        )
    if result.errors:
        print(f"\n!!!!! {result.label}: {result.errors} POSTs failed, e.g. {samples} !!!!!\n")


def progress(text: str) -> None:
    print(text, flush=True)
