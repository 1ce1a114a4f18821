"""Wiring of the console, and its sign-in: the one-time link, local mode, sign-out.

``setup(app)`` is the one call ``create_app`` makes: templates with their own
loader and key (the website has its own), the session secret in a cleanup context,
and the routes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from dialogs.assignment import estimate_minutes
from store import console, console_sessions
from web import keys
from web.console import desk, formats, params, settings_views, views
from web.console.auth import COOKIE, ConsoleAuth
from web.console.common import current_user, page

HERE = Path(__file__).parent


async def to_home(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


async def home(request: web.Request) -> web.Response:
    """``/console/``: the live page when signed in, else how to sign in."""
    if await current_user(request) is not None:
        raise web.HTTPFound("/console/live")
    return page(request, "signin_help.html")


async def link_page(request: web.Request) -> web.Response:
    """GET of a sign-in link shows a button only: link previews (Teams unfurls links)
    fetch with GET, and must not spend the link."""
    return page(request, "signin_link.html", token=request.match_info["token"])


async def redeem_link(request: web.Request) -> web.Response:
    """POST of a sign-in link: spend it and open the session, or refuse. Posted from
    another site (signing a victim in as someone else), it is refused before it is spent."""
    request.app[keys.CONSOLE_AUTH].check_origin(request)
    async with request.app[keys.STORE].unit() as tx:
        agent_id = await console.redeem_console_link(tx, request.match_info["token"])
        token = await console_sessions.do_start_session(tx, agent_id) if agent_id else None
    if token is None:
        return page(request, "message.html", status=403, message_key="console.link_invalid")
    response = web.HTTPFound("/console/live")
    request.app[keys.CONSOLE_AUTH].start(response, token)
    raise response


async def local_signin(request: web.Request) -> web.Response:
    """Local mode only: pick a supervisor to act as (the Emulator has no Teams)."""
    if not request.app[keys.SETTINGS].local_mode:
        raise web.HTTPNotFound()
    if request.method == "POST":
        form = await request.post()
        request.app[keys.CONSOLE_AUTH].check_origin(request)
        agent_id = params.row_id(form.get("agent"))
        token = None
        if agent_id is not None:
            async with request.app[keys.STORE].unit() as tx:
                user = await console.console_user(tx, agent_id)
                token = await console_sessions.do_start_session(tx, agent_id) if user else None
        if token is None:
            raise web.HTTPBadRequest(text="pick a supervisor")
        response = web.HTTPFound("/console/live")
        request.app[keys.CONSOLE_AUTH].start(response, token)
        raise response
    async with request.app[keys.STORE].reading() as tx:
        supervisors = await console.console_supervisors(tx)
    return page(request, "signin_local.html", supervisors=supervisors)


async def signout(request: web.Request) -> web.Response:
    """Sign-out ends the session on the server (its cookie opens nothing afterwards, even
    kept elsewhere); "everywhere" ends every session of the supervisor."""
    form = await request.post()
    auth = request.app[keys.CONSOLE_AUTH]
    auth.check_form(request, str(form.get("csrf", "")))
    token = auth.token_of(request.cookies.get(COOKIE))
    everywhere = request.match_info.get("where") == "everywhere"
    user = await current_user(request) if everywhere else None
    if token is not None:
        async with request.app[keys.STORE].unit() as tx:
            if user is not None:
                await console_sessions.do_sign_out_everywhere(tx, user.agent_id)
            else:
                await console_sessions.do_sign_out(tx, token)
    response = web.HTTPFound("/console/")
    auth.end(response)
    raise response


def setup(app: web.Application) -> None:
    """Templates, the session secret (a cleanup context after the database's) and routes."""
    settings = app[keys.SETTINGS]
    aiohttp_jinja2.setup(
        app,
        app_key=keys.CONSOLE_TEMPLATES,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        filters={**formats.FILTERS, "minutes": estimate_minutes},
    )

    async def sessions(app: web.Application) -> AsyncIterator[None]:
        store = app[keys.STORE]
        secret = await store.secret("console_secret")
        app[keys.CONSOLE_AUTH] = ConsoleAuth(secret, secure=not settings.local_mode)
        yield

    app.cleanup_ctx.append(sessions)
    app[keys.CONSOLE_CLOSING] = asyncio.Event()

    async def closing(app: web.Application) -> None:
        """End the live pages' event streams at shutdown (browsers reconnect elsewhere)."""
        app[keys.CONSOLE_CLOSING].set()

    app.on_shutdown.append(closing)
    app.router.add_get("/console", to_home)
    app.router.add_get("/console/", home)
    app.router.add_get("/console/signin/{token}", link_page)
    app.router.add_post("/console/signin/{token}", redeem_link)
    app.router.add_route("*", "/console/local", local_signin)
    app.router.add_post("/console/signout", signout)
    app.router.add_post("/console/signout/{where:everywhere}", signout)
    app.router.add_static("/console/static", HERE / "static")
    views.add_routes(app)
    settings_views.add_routes(app)
    desk.add_routes(app)
