"""The website front door: the chat page, the embeddable widget, the Direct Line token
endpoint and, in local mode only, a local Direct Line service (``web.directline``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.settings import Settings
from web import keys
from web.directline import DIRECT_LINE_PREFIX, Deliver, LocalDirectLine
from web.pages import availability, chat_page, offer_code, widget_script
from web.token import ROUTES, TokenService, VisitorIds

log = logging.getLogger("support_bridge")

STATIC = Path(__file__).with_name("static")


def _via_tokens(path: str, method: str) -> web.Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await request.app[keys.TOKENS].handler(path, method)(request)

    return handle


def add_front_door(app: web.Application, settings: Settings, deliver: Deliver) -> None:
    """Routes, templates and the token service; ``deliver`` runs a local visitor's turn.

    Call after the HTTP session's cleanup context is registered: the token service uses it.
    """
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    local = (
        LocalDirectLine(deliver, settings.upload_max_bytes) if settings.local_direct_line else None
    )
    if local is not None:
        app[keys.LOCAL_DIRECT_LINE] = local
        app.router.add_routes(local.routes())
        app.on_shutdown.append(local.close_streams)
        log.warning(
            "LOCAL MODE: this process serves a local Direct Line endpoint at %s for /chat "
            "and /widget.js (conversations in memory, one process). It exists only in local "
            "mode; with MicrosoftAppId set, Web Chat uses Azure's Direct Line.",
            DIRECT_LINE_PREFIX,
        )

    async def tokens(app: web.Application) -> AsyncIterator[None]:
        key = await app[keys.STORE].secret("visitor_cookie_secret")
        if local is not None:
            local.use_key(await app[keys.STORE].secret("local_direct_line_key"))
        app[keys.TOKENS] = TokenService(
            settings,
            app[keys.CLIENT_SESSION],
            VisitorIds(key),
            local.secret if local is not None else None,
        )
        yield

    app.cleanup_ctx.append(tokens)
    for path, method in ROUTES:
        # The service exists once the app has started; the route is fixed before that.
        app.router.add_route(method, path, _via_tokens(path, method))
    app.router.add_get("/chat", chat_page)
    app.router.add_get("/widget.js", widget_script)
    app.router.add_get("/api/availability", availability)
    app.router.add_get("/api/offer/{channel}.svg", offer_code)
    app.router.add_static("/static", STATIC)
