"""What every console page needs: the texts, rendering, and the supervisor's scope."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from dialogs.i18n import Texts
from store import console_sessions, hours
from store.console import ConsoleDepartment, ConsoleUser
from web import keys
from web.console.auth import COOKIE
from web.headers import CONSOLE_POLICY, secure


def texts(request: web.Request) -> Texts:
    """The console speaks the team's language (``DEFAULT_LANGUAGE``)."""
    return Texts(request.app[keys.SETTINGS].default_language)


def page(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    """Render a console page with what every page needs (texts, the form token)."""
    cookie = request.cookies.get(COOKIE, "")
    context = {
        "t": texts(request),
        "form_token": request.app[keys.CONSOLE_AUTH].form_token(cookie) if cookie else "",
        "local_mode": request.app[keys.SETTINGS].local_mode,
        **values,
    }
    response = aiohttp_jinja2.render_template(
        template, request, context, app_key=keys.CONSOLE_TEMPLATES, status=status
    )
    # Console pages are personal: never cached by a proxy, never framed by another site.
    response.headers["Cache-Control"] = "no-store"
    secure(response, CONSOLE_POLICY, frame_options="SAMEORIGIN", referrer="same-origin")
    return response


async def department_zone(request: web.Request, department_id: int) -> str:
    """The zone the department's times are shown in (its own, else ``TIME_ZONE``)."""
    async with request.app[keys.STORE].reading() as tx:
        found = await hours.department_zone(tx.session, department_id)
    return found or request.app[keys.SETTINGS].time_zone


async def current_user(request: web.Request) -> ConsoleUser | None:
    """The supervisor of this request's session as the server has it now (a session ended
    there, or one whose supervisor lost the role, opens nothing), else None."""
    token = request.app[keys.CONSOLE_AUTH].token_of(request.cookies.get(COOKIE))
    if token is None:
        return None
    store = request.app[keys.STORE]
    async with store.reading() as tx:
        found = await console_sessions.signed_in(tx, token)
    if found is None:
        return None
    if found.stale:
        async with store.unit() as tx:
            await console_sessions.do_touch_session(tx, token)
    return found.user


async def signed_in(request: web.Request) -> ConsoleUser:
    """The supervisor of this request's session; without one, off to the sign-in help."""
    user = await current_user(request)
    if user is None:
        raise web.HTTPFound("/console/")
    return user


async def still_allowed(request: web.Request, department: ConsoleDepartment) -> bool:
    """Whether the request's session still lives and still covers ``department``: checked
    again before each event a long-lived response (the live stream) sends."""
    user = await current_user(request)
    return user is not None and department in user.departments


async def scope(request: web.Request) -> tuple[ConsoleUser, ConsoleDepartment]:
    """The signed-in supervisor and the department the page asks for (``?dept=``), which
    must be one of theirs: another department's page is refused, whether it exists or not."""
    user = await signed_in(request)
    wanted = request.query.get("dept")
    for department in user.departments:
        if wanted in (None, "", department.key):
            return user, department
    raise web.HTTPForbidden(text=texts(request)("console.forbidden"))
