"""The live page's desk: the agents and queue panels, and Join from the console.

The panels are drawn with the chats (``live_rows.html`` includes them), so the live
page's event stream redraws them whenever either fingerprint changes. Join is a form
POST, guarded like every console POST (origin and form token), for a chat of one of the
supervisor's departments only, through the same ``do_join`` as the card's Join.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from dialogs.desk import console_join
from dialogs.replies import refusal_key
from store import console
from store.console import ConsoleDepartment
from store.desk import desk, desk_fingerprint
from store.moves import Joined
from store.vocabulary import Refusal
from web import keys
from web.console.auth import COOKIE
from web.console.common import scope

# The words for an agent's availability on the panel (each key in full).
AVAILABILITY_KEYS = {
    "online": "availability.online",
    "away": "availability.away",
    "offline": "availability.offline",
}
# What the live page says after a Join from the console, by outcome (each key in full).
JOIN_KEYS = {
    "joined": "console.joined",
    Refusal.ALREADY_IN_CHAT.value: refusal_key(Refusal.ALREADY_IN_CHAT),
    Refusal.JOIN_CLOSED.value: refusal_key(Refusal.JOIN_CLOSED),
    Refusal.JOIN_NOT_SUPERVISOR.value: refusal_key(Refusal.JOIN_NOT_SUPERVISOR),
}


async def desk_values(request: web.Request, department: ConsoleDepartment) -> dict[str, Any]:
    """What the panels and the Join buttons need, for the page and each pushed redraw."""
    async with request.app[keys.STORE].reading() as tx:
        found = await desk(tx, department.id)
    cookie = request.cookies.get(COOKIE, "")
    return {
        "desk": found,
        "availability_keys": AVAILABILITY_KEYS,
        "join_token": request.app[keys.CONSOLE_AUTH].form_token(cookie) if cookie else "",
        "dept_key": department.key,
    }


async def fingerprint(request: web.Request, department: ConsoleDepartment) -> tuple[Any, ...]:
    async with request.app[keys.STORE].reading() as tx:
        return await desk_fingerprint(tx, department.id)


def join_notice(request: web.Request) -> str | None:
    """The key of what to say after a Join (``?joined=``), or None."""
    return JOIN_KEYS.get(request.query.get("joined", ""))


async def join(request: web.Request) -> web.Response:
    """POST /console/chats/<ref>/join: the supervisor joins a chat of their department."""
    user, department = await scope(request)
    form = await request.post()
    request.app[keys.CONSOLE_AUTH].check_form(request, str(form.get("csrf", "")))
    async with request.app[keys.STORE].reading() as tx:
        chat_id = await console.department_chat(tx, department.id, request.match_info["ref"])
    if chat_id is None:
        raise web.HTTPNotFound(text="no such chat in this department")
    outcome = await console_join(request.app[keys.BRIDGE].ctx, user.agent_id, chat_id)
    said = "joined" if isinstance(outcome, Joined) else str(outcome.reason)
    query = urlencode({"dept": department.key, "joined": said})
    raise web.HTTPFound(f"/console/live?{query}")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/console/chats/{ref}/join", join)
