"""The poll that makes availability follow Teams presence (``PRESENCE_SYNC=graph``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from bot import keys
from bot.graph import GraphPresence
from bot.settings import Settings
from bot.timers import Timers
from dialogs import presence


def presence_sync(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: every ``presence_interval`` seconds the department members'
    presence is read from Graph in batches and their availability follows it. Off
    unless ``PRESENCE_SYNC=graph``."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        if settings.presence_sync != "graph":
            yield
            return
        graph = GraphPresence(app[keys.CLIENT_SESSION], settings)
        ctx = app[keys.BRIDGE].ctx

        def poll() -> Any:
            return presence.follow_teams_presence(ctx, graph, settings.presence_interval)

        timers = Timers([poll], settings.presence_interval)
        polling = asyncio.create_task(timers.run())
        yield
        timers.stop()
        await polling

    return run
