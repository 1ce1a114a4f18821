"""The settings page and its forms: business hours, capacity, tags and the required-tag
switch, canned answers (the department's and the company's), supervisors.

Every form is a POST that passes the form-token check, changes one thing through the
store (which records who changed what, when) and redirects back to the page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from cards.departments import AVAILABILITY_KEYS
from cards.times import zone_choices, zone_said
from dialogs.canned import NAME_LIMIT, TEXT_LIMIT, usable_shortcut, valid_name
from dialogs.i18n import languages
from dialogs.rooms import DEPARTMENT_NAME_LIMIT
from store import canned, console_settings, departments, supervisors, tags
from store.assignment import MODES
from store.canned import CannedAdded, CannedRemoved
from store.console import ConsoleDepartment, ConsoleUser
from store.hours import BadHours, parse_hours
from store.supervisors import SupervisorsChanged
from store.tags import TagRemoved, TagsAdded
from store.vocabulary import Refused
from web import keys
from web.console import params
from web.console.common import department_zone, page, scope, texts
from web.console.formats import MODE_KEYS

# The label of the department's name in each customer language (each key in full).
NAME_KEYS = {"vi": "console.name_in_vi", "en": "console.name_in_en"}

Form = MultiDictProxy[Any]


async def settings(request: web.Request) -> web.Response:
    user, department = await scope(request)
    zone_name = await department_zone(request, department.id)
    async with request.app[keys.STORE].reading() as tx:
        current = await console_settings.department_settings(tx, department.id)
    configured = request.app[keys.SETTINGS]
    now, language = request.app[keys.STORE].clock(), texts(request).language
    # The picker shows the stored hours' zone; without hours, the department's.
    shown_zone = current.hours.time_zone if current.hours else zone_name
    return page(
        request,
        "settings.html",
        user=user,
        department=department,
        section="settings",
        settings=current,
        saved=request.query.get("saved") == "1",
        error=request.query.get("error", ""),
        name_limit=NAME_LIMIT,
        modes=MODES,
        target_minutes=TARGET_MINUTES,
        mode_keys=MODE_KEYS,
        languages=languages(),
        name_keys=NAME_KEYS,
        department_name_limit=DEPARTMENT_NAME_LIMIT,
        first_bot_configured=bool(configured.first_bot_secret),
        ai_on=bool(configured.ai_base_url) and department.key in configured.ai_departments,
        ai_calls_per_day=configured.ai_calls_per_day,
        zone_name=zone_name,
        zones=zone_choices(language, now, shown_zone),
        picked_zone=shown_zone,
        hours_zone=zone_said(shown_zone, now, language),
        availability_keys=AVAILABILITY_KEYS,
    )


def _back(department: ConsoleDepartment, **query: str) -> web.HTTPFound:
    return web.HTTPFound(f"/console/settings?{urlencode({'dept': department.key, **query})}")


async def _capacity(
    request: web.Request, user: ConsoleUser, dept: ConsoleDepartment, form: Form
) -> str | None:
    try:
        capacity = int(str(form.get("capacity", "")).strip() or "0")
    except ValueError:
        return "capacity"
    if not 0 <= capacity <= 1000:
        return "capacity"
    async with request.app[keys.STORE].unit() as tx:
        done = await departments.do_set_capacity(tx, dept.id, user.agent_id, capacity or None)
    return "capacity" if isinstance(done, Refused) else None


async def _names(
    request: web.Request, user: ConsoleUser, dept: ConsoleDepartment, form: Form
) -> str | None:
    """The department's name per customer language (``name_vi``, ``name_en``...)."""
    names = {
        language: " ".join(str(form.get(f"name_{language}", "")).split())
        for language in languages()
    }
    if any(len(name) > DEPARTMENT_NAME_LIMIT for name in names.values()):
        return "names"
    async with request.app[keys.STORE].unit() as tx:
        given = {language: name for language, name in names.items() if name}
        await departments.do_set_names(tx, dept.id, user.agent_id, given)
    return None


async def _assignment(
    request: web.Request, user: ConsoleUser, dept: ConsoleDepartment, form: Form
) -> str | None:
    mode = str(form.get("assignment", ""))
    if mode not in MODES:
        return "assignment"
    async with request.app[keys.STORE].unit() as tx:
        await departments.do_set_assignment(tx, dept.id, user.agent_id, mode)
    return None


# The longest response-time target the form takes, in minutes (a week).
TARGET_MINUTES = 7 * 24 * 60


async def _targets(
    request: web.Request, user: ConsoleUser, dept: ConsoleDepartment, form: Form
) -> str | None:
    """Response-time targets in minutes (empty: off), through the room command's change."""
    wanted: list[int | None] = []
    for field in ("first_target", "next_target"):
        given = str(form.get(field, "")).strip()
        if not given:
            wanted.append(None)
            continue
        if not given.isdigit() or not 1 <= int(given) <= TARGET_MINUTES:
            return "targets"
        wanted.append(int(given) * 60)
    async with request.app[keys.STORE].unit() as tx:
        await departments.do_set_targets(tx, dept.id, user.agent_id, *wanted)
    return None
async def _queue(
    request: web.Request, user: ConsoleUser, dept: ConsoleDepartment, form: Form
) -> str | None:
    """The queue's priority: a tag of the department (or none), returning customers."""
    tag = str(form.get("tag", "")).strip().lower() or None
    if tag is not None and not valid_name(tag):
        return "queue"
    returning = form.get("returning") == "1"
    async with request.app[keys.STORE].unit() as tx:
        done = await departments.do_set_queue_priority(
            tx, dept.id, user.agent_id, tag, returning=returning
        )
    return "queue" if isinstance(done, Refused | departments.PriorityTagMissing) else None


async def _hours(
    request: web.Request, user: ConsoleUser, dept: ConsoleDepartment, form: Form
) -> str | None:
    store = request.app[keys.STORE]
    if form.get("always") == "1":
        async with store.unit() as tx:
            await console_settings.do_set_hours(tx, dept.id, user.agent_id, None)
        return None
    try:
        hours = parse_hours(
            str(form.get("time_zone", "")),
            [str(day) for day in form.getall("days", [])],
            str(form.get("opens", "")),
            str(form.get("closes", "")),
        )
    except BadHours:
        return "hours"
    async with store.unit() as tx:
        await console_settings.do_set_hours(tx, dept.id, user.agent_id, hours)
    return None


async def _first_bot(
    request: web.Request, user: ConsoleUser, dept: ConsoleDepartment, form: Form
) -> str | None:
    async with request.app[keys.STORE].unit() as tx:
        done = await departments.do_set_first_bot(tx, dept.id, user.agent_id, form.get("on") == "1")
    return "first_bot" if isinstance(done, Refused) else None


async def _tag_required(
    request: web.Request, user: ConsoleUser, dept: ConsoleDepartment, form: Form
) -> str | None:
    required = form.get("required") == "1"
    async with request.app[keys.STORE].unit() as tx:
        done = await tags.do_require_tag(tx, dept.id, user.agent_id, required)
    return "tag" if isinstance(done, Refused) else None


async def _tag(
    request: web.Request, user: ConsoleUser, dept: ConsoleDepartment, form: Form
) -> str | None:
    name = str(form.get("name", "")).strip().lower()
    if not valid_name(name):
        return "name"
    add = form.get("do") != "remove"
    async with request.app[keys.STORE].unit() as tx:
        if add:
            added = await tags.do_add_tags(tx, dept.id, user.agent_id, [name])
            done = isinstance(added, TagsAdded) and bool(added.added)
        else:
            removed = await tags.do_remove_tag(tx, dept.id, user.agent_id, name)
            done = isinstance(removed, TagRemoved)
    return None if done else "tag"


async def _canned(
    request: web.Request, user: ConsoleUser, dept: ConsoleDepartment, form: Form
) -> str | None:
    shortcut = str(form.get("shortcut", "")).strip().lower()
    if not usable_shortcut(shortcut):
        return "name"
    text = None if form.get("do") == "remove" else str(form.get("text", "")).strip()
    if text is not None and not 0 < len(text) <= TEXT_LIMIT:
        return "canned"
    company_wide = form.get("company") == "1"
    async with request.app[keys.STORE].unit() as tx:
        if text is None:
            removed = await canned.do_remove_canned(
                tx, dept.id, user.agent_id, shortcut, company_wide=company_wide
            )
            done = isinstance(removed, CannedRemoved)
        else:
            added = await canned.do_add_canned(
                tx, dept.id, user.agent_id, shortcut, text, company_wide=company_wide, replace=True
            )
            done = isinstance(added, CannedAdded)
    return None if done else "canned"


async def _supervisor(
    request: web.Request, user: ConsoleUser, dept: ConsoleDepartment, form: Form
) -> str | None:
    target = params.row_id(form.get("agent"))
    if target is None:
        return "supervisor"
    add = form.get("do") == "add"
    async with request.app[keys.STORE].unit() as tx:
        change = supervisors.do_add_supervisor if add else supervisors.do_remove_supervisor
        outcome = await change(tx, dept.id, user.agent_id, target)
    return None if isinstance(outcome, SupervisorsChanged) and outcome.changed else "supervisor"


Change = Callable[[web.Request, ConsoleUser, ConsoleDepartment, Form], Awaitable[str | None]]
CHANGES: dict[str, Change] = {
    "capacity": _capacity,
    "assignment": _assignment,
    "targets": _targets,
    "first-bot": _first_bot,
    "queue": _queue,
    "names": _names,
    "hours": _hours,
    "tag-required": _tag_required,
    "tag": _tag,
    "canned": _canned,
    "supervisor": _supervisor,
}


async def change(request: web.Request) -> web.Response:
    """POST /console/settings/<what>: one change, checked and recorded, then back."""
    handler = CHANGES.get(request.match_info["what"])
    if handler is None:
        raise web.HTTPNotFound()
    user, department = await scope(request)
    form = await request.post()
    request.app[keys.CONSOLE_AUTH].check_form(request, str(form.get("csrf", "")))
    problem = await handler(request, user, department, form)
    raise _back(department, error=problem) if problem else _back(department, saved="1")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/settings", settings)
    app.router.add_post("/console/settings/{what}", change)
