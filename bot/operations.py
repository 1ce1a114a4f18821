"""Endpoints for the people who run the bridge: liveness, readiness and metrics.

``/healthz`` says the process answers (a container restarts it when not);
``/readyz`` says this replica should get traffic: its database answers, the schema is
at the code's revision and the delivery loop is sweeping; ``/metrics`` is Prometheus.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from bot import keys
from bot.settings import Settings
from store import migrate
from store.engine import READ_ONLY

READY_TIMEOUT = 3.0

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    # A read (on SQLite a deferred BEGIN): a liveness probe must not take the writers' lock.
    async with request.app[keys.ENGINE].connect() as connection:
        await connection.execution_options(**{READ_ONLY: True})
        await connection.execute(text("SELECT 1"))
    return web.json_response({"status": "ok"})


async def _database(request: web.Request) -> str | None:
    """Why the database is not usable, or None: reachable and at the code's revision."""
    try:
        found = await asyncio.wait_for(migrate.status(request.app[keys.ENGINE]), READY_TIMEOUT)
    except Exception as error:  # any failure to read it means: not reachable
        # The details (hosts, addresses) go to the log, not to whoever asks.
        log.warning("readiness: the database is unreachable: %r", error)
        return f"unreachable ({type(error).__name__})"
    if not found.up_to_date:
        return f"at revision {found.current}, needs {found.head}: run `support-bridge db upgrade`"
    return None


async def readyz(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    database = await _database(request)
    # The sweep runs every sweep interval; a few missed ones (a slow database) still count
    # as alive, a loop that stopped does not.
    alive = request.app[keys.DISPATCHER].alive(max(1.0, settings.sweep_interval * 10))
    checks = {
        "database": database or "ok",
        "delivery": "ok" if alive else "the delivery loop has not swept recently",
    }
    ready = database is None and alive
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


def metrics_refusal(settings: Settings, authorization: str) -> str | None:
    """Why ``/metrics`` is refused to a request with this ``Authorization`` header, or None.

    Department names and chat counts are the company's business: with an app id set (a
    public host), only ``Bearer <METRICS_TOKEN>`` reads them, and without a token nobody
    does. Local mode (this machine only) may stay open. The token is compared in
    constant time; a bare token without its scheme is refused.
    """
    token = settings.metrics_token
    if not token:
        return None if settings.local_mode else "no METRICS_TOKEN is set"
    scheme, _, given = authorization.partition(" ")
    expected = token.encode("utf-8", "surrogatepass")
    offered = given.strip().encode("utf-8", "surrogatepass")
    if scheme.lower() != "bearer" or not hmac.compare_digest(offered, expected):
        return "metrics need the bearer token"
    return None


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text, for those :func:`metrics_refusal` lets through."""
    app = request.app
    settings = app[keys.SETTINGS]
    refusal = metrics_refusal(settings, request.headers.get("Authorization", ""))
    if refusal is not None and not settings.metrics_token:
        raise web.HTTPForbidden(text=f"/metrics is off: {refusal}")
    if refusal is not None:
        raise web.HTTPUnauthorized(text=refusal, headers={"WWW-Authenticate": "Bearer"})
    body = await app[keys.METRICS].exposition(app[keys.ENGINE], app[keys.STORE].clock())
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
