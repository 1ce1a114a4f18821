"""The console's pages: live chats (with their event stream), history, a chat, reports.

Every handler first passes ``scope``: a signed-in supervisor, and a department that
is one of theirs. Reads go through the store with that department's id only.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from bot.timers import first_of
from bot.transcript_page import content_policy, render
from cards.lists import thread_link
from cards.report import report_facts
from cards.times import local_day, zone, zone_said
from dialogs.console import read_report
from dialogs.i18n import Texts
from store import console, transcripts
from store.channels import facts as channel_facts
from store.console import ConsoleDepartment, LiveChat
from store.history import (
    HistoryFilter,
    HistoryRow,
    closed_chats,
    history_copied,
    history_rows,
)
from store.reports import Report
from store.unit import Unit
from web import keys
from web.console import desk, params
from web.console.charts import BarChart, bar_chart
from web.console.common import department_zone, page, scope, still_allowed, texts
from web.headers import secure

# An event stream looks at the database when told of a change (bot/wakeups.py), at most
# every POLL_SECONDS, and at least every LOOK_SECONDS (a change nobody announced: a
# replica that died between its commit and its notification); and how long one stream
# lasts (the browser's EventSource reconnects by itself; a bounded stream frees its
# connection).
POLL_SECONDS = 1.0
LOOK_SECONDS = 15.0
STREAM_SECONDS = 300.0
KEEPALIVE_SECONDS = 15.0
# The last event of a stream whose session or role has ended: the page goes to sign-in
# (a closed stream alone would only make the browser reconnect, and fail, quietly).
SIGNED_OUT = b"event: signedout\ndata: /console/\n\n"
CSV_LIMIT = 10_000
CSV_HEADER = ("reference", "customer", "channel", "agent", "opened", "closed", "tags")
# The report page's quick ranges: each label's key and its number of days (to today).
QUICK_RANGES = {"console.range_today": 1, "console.range_week": 7, "console.range_month": 30}
# Cells a spreadsheet would run as a formula get a quote in front (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

log = logging.getLogger(__name__)


def _range(
    request: web.Request, zone_name: str, default_days: int | None
) -> tuple[date | None, date | None]:
    """``since`` and ``until`` (both days included, days of the department's zone) from
    the query."""
    until = params.day(request, "until")
    since = params.day(request, "since")
    if default_days is not None:
        today = _today(request, zone_name)
        until = until or today
        since = since or until - timedelta(days=default_days - 1)
    return since, until


def _today(request: web.Request, zone_name: str) -> date:
    return request.app[keys.STORE].clock().astimezone(zone(zone_name)).date()


def _start(day: date | None, zone_name: str) -> datetime | None:
    """The first moment of ``day`` in the department's zone."""
    return datetime.combine(day, time(), zone(zone_name)) if day else None


async def live(request: web.Request) -> web.Response:

    user, department = await scope(request)
    return page(
        request,
        "live.html",
        user=user,
        department=department,
        section="live",
        join_notice=desk.join_notice(request),
        **await _live_values(request, department),
    )


async def _live_values(request: web.Request, department: ConsoleDepartment) -> dict[str, Any]:
    async with request.app[keys.STORE].reading() as tx:
        chats = await console.live_chats(tx, department.id)
    now = request.app[keys.STORE].clock()
    return {
        "chats": chats,
        "now": now,
        "waiting": sum(1 for c in chats if c.state == "waiting"),
        "thread_link": thread_link,
        **await desk.desk_values(request, department),
    }


async def _breaches(
    response: web.StreamResponse, chats: list[LiveChat], before: set[str] | None
) -> set[str]:
    """A ``breach`` event (the chat's reference) for each wait that breached its response
    target since the last redraw (none at the first: the page shows those already), for
    the page to notify the supervisor."""
    now = {chat.ref for chat in chats if chat.target == "breached"}
    for ref in sorted(now - before) if before is not None else ():
        await response.write(f"event: breach\ndata: {ref}\n\n".encode())
    return now


async def live_events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: the live table again whenever the department's open chats
    change. The stream waits for a change (this replica's commits, other replicas'
    notifications) instead of scanning every second; nothing is sent once the session or
    the role has ended (checked before each event, woken at once in this process)."""

    user, department = await scope(request)
    store = request.app[keys.STORE]
    closing = request.app[keys.CONSOLE_CLOSING]
    changes = request.app[keys.CHANGES]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    ends = loop.time() + STREAM_SECONDS
    last: tuple[Any, ...] | None = None
    breached: set[str] | None = None
    quiet_since = loop.time()
    try:
        # Woken at once when a unit of this process ends the supervisor's sessions
        # (sign-out, role removal); on other replicas, the check before each event.
        with store.session_ends.watch(user.agent_id) as ended:
            while loop.time() < ends and not closing.is_set():
                if ended.is_set():
                    ended.clear()
                    if not await still_allowed(request, department):
                        await response.write(SIGNED_OUT)
                        break
                # Taken before the read: a change made while it runs wakes the next wait.
                changed = changes.current()
                async with store.reading() as tx:
                    mark = await console.live_fingerprint(tx, department.id)
                mark += await desk.fingerprint(request, department)
                due = loop.time() - quiet_since > KEEPALIVE_SECONDS
                if (mark != last or due) and not await still_allowed(request, department):
                    await response.write(SIGNED_OUT)
                    break
                if mark != last:
                    last = mark
                    values = await _live_values(request, department)
                    html = aiohttp_jinja2.render_string(
                        "live_rows.html",
                        request,
                        {"t": texts(request), **values},
                        app_key=keys.CONSOLE_TEMPLATES,
                    )
                    data = "".join(f"data: {line}\n" for line in html.splitlines())
                    await response.write(f"event: chats\n{data}\n".encode())
                    breached = await _breaches(response, values["chats"], breached)
                    quiet_since = loop.time()
                elif due:
                    await response.write(b": keep-alive\n\n")
                    quiet_since = loop.time()
                # Until a change, a keep-alive or a recheck is due, the session ends or the
                # server shuts down; then a short pause (not after an ended session), so a
                # busy room redraws at most every POLL_SECONDS.
                until = min(KEEPALIVE_SECONDS - (loop.time() - quiet_since), LOOK_SECONDS)
                await first_of(changed, closing, ended, timeout=max(until, 0.0))
                if not ended.is_set():
                    await first_of(closing, ended, timeout=POLL_SECONDS)
    except ConnectionResetError:
        log.debug("live stream of %s ended: the browser went away", department.key)
    return response


def _search(request: web.Request, zone_name: str) -> tuple[HistoryFilter, dict[str, str]]:
    since, until = _range(request, zone_name, None)
    search = HistoryFilter(
        customer=params.search_text(request, "customer"),
        agent=params.search_text(request, "agent"),
        tag=params.search_text(request, "tag"),
        text=params.search_text(request, "text"),
        since=_start(since, zone_name),
        until=_start(until + timedelta(days=1), zone_name) if until else None,
    )
    query = {
        name: request.query.get(name, "")
        for name in ("customer", "agent", "tag", "text", "since", "until")
    }
    return search, query


async def history(request: web.Request) -> web.Response:

    user, department = await scope(request)
    zone_name = await department_zone(request, department.id)
    search, query = _search(request, zone_name)
    number = params.page_number(request)
    async with request.app[keys.STORE].reading() as tx:
        found = await closed_chats(tx, department.id, search, number)
    return page(
        request,
        "history.html",
        user=user,
        department=department,
        section="history",
        found=found,
        query=query,
        zone_name=zone_name,
        zone_said=_zone_said(request, zone_name),
    )


def _stamp(at: datetime | None, tz: tzinfo) -> str:
    """A moment in the department's zone with its offset ("2026-11-27T16:47:00+07:00"):
    a spreadsheet reads the team's clock, and the moment stays unambiguous."""
    return at.astimezone(tz).isoformat(timespec="seconds") if at else ""


def _zone_said(request: web.Request, zone_name: str) -> str:
    return zone_said(zone_name, request.app[keys.STORE].clock(), texts(request).language)


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_START) else value


async def history_csv(request: web.Request) -> web.StreamResponse:
    """The search's closed chats as CSV (one row per chat, newest first), streamed: rows
    are written as the database hands them over. PostgreSQL writes the rows itself, each
    cell as ``_history_row`` writes it (``history_copied``); elsewhere they come a batch
    at a time, with their tags joined by the same statement."""

    _, department = await scope(request)
    zone_name = await department_zone(request, department.id)
    tz = zone(zone_name)
    search, _ = _search(request, zone_name)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="history-{department.key}.csv"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    # A HEAD's answer has no body: aiohttp would send one written after its headers.
    if request.method != "HEAD":
        async with request.app[keys.STORE].reading() as tx:
            await write_history_csv(tx, department.id, search, tz, response.write)
    await response.write_eof()
    return response


async def write_history_csv(
    tx: Unit,
    department_id: int,
    search: HistoryFilter,
    tz: ZoneInfo,
    write: Callable[[bytes], Awaitable[None]],
) -> None:
    """The export: its header, then its rows as PostgreSQL writes them; or, where it
    cannot (SQLite, a zone it does not know), formatted here a batch at a time."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    await write(out.getvalue().encode())
    out.seek(0)
    out.truncate()
    if await history_copied(tx, department_id, search, CSV_LIMIT, tz.key, FORMULA_START, write):
        return
    async for batch in history_rows(tx, department_id, search, CSV_LIMIT):
        writer.writerows(_history_row(row, tz) for row in batch)
        await write(out.getvalue().encode())
        out.seek(0)
        out.truncate()


def _history_row(row: HistoryRow, tz: tzinfo) -> list[str]:
    """A chat's cells in the CSV: the customer's and agents' words escaped (``_cell``),
    the times in the department's zone (``_stamp``), the channel by its name."""
    return [
        row.ref,
        _cell(row.customer),
        channel_facts(row.channel).name,
        _cell(row.owner or ""),
        _stamp(row.created_at, tz),
        _stamp(row.closed_at, tz),
        _cell(" ".join(row.tags)),
    ]


async def _chat_id(request: web.Request) -> tuple[Any, Any, int]:

    user, department = await scope(request)
    async with request.app[keys.STORE].reading() as tx:
        chat_id = await console.department_chat(tx, department.id, request.match_info["ref"])
    if chat_id is None:
        raise web.HTTPNotFound(text="no such chat in this department")
    return user, department, chat_id


async def chat(request: web.Request) -> web.Response:
    """A chat inside the console: the transcript page in a frame under the console's bar."""

    user, department, _ = await _chat_id(request)
    return page(
        request,
        "chat.html",
        user=user,
        department=department,
        section="history",
        ref=request.match_info["ref"],
    )


async def chat_transcript(request: web.Request) -> web.Response:

    _, _, chat_id = await _chat_id(request)
    async with request.app[keys.STORE].reading() as tx:
        found = await transcripts.transcript(tx, chat_id)
    if found is None:
        raise web.HTTPNotFound()
    zone = found.chat.time_zone or request.app[keys.SETTINGS].time_zone
    page = render(found, texts(request), zone)
    response = web.Response(text=page, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    # The console's chat page frames it: its own origin only.
    secure(response, content_policy("'self'"), frame_options="SAMEORIGIN")
    return response


def _breach_charts(figures: Report, t: Texts) -> list[BarChart]:
    """Response targets missed, by hour and by agent (nothing when none was missed)."""
    missed = figures.targets
    if missed is None or not missed.breaches:
        return []
    nobody = t("report.breach_nobody")
    return [
        bar_chart(
            t("console.chart_breaches_hours"),
            [f"{h:02d}" for h in range(24)],
            list(missed.by_hour),
            label_every=3,
        ),
        bar_chart(
            t("console.chart_breaches_agents"),
            [name or nobody for name, _ in missed.by_agent[:8]],
            [n for _, n in missed.by_agent[:8]],
        ),
    ]


async def reports(request: web.Request) -> web.Response:
    """A period's figures in the department's zone, each beside the previous period's
    (as many days, just before), with quick ranges (today, 7 days, 30 days)."""
    user, department = await scope(request)
    zone_name = await department_zone(request, department.id)
    since, until = _range(request, zone_name, 7)
    assert since is not None and until is not None
    if since > until:
        since, until = until, since
    days = (until - since).days + 1
    before = (since - timedelta(days=days), since - timedelta(days=1))
    store = request.app[keys.STORE]
    figures = await read_report(store, department.id, *_span(since, until, zone_name), zone_name)
    previous = await read_report(store, department.id, *_span(*before, zone_name), zone_name)
    t = texts(request)
    said = _zone_said(request, zone_name)
    # The previous period may lack a figure (no wait under a target ended then): a dash.
    earlier = dict(report_facts(previous, t))
    facts = report_facts(figures, t)
    compared = [(label, value, earlier.get(label, "–")) for label, value in facts]
    return page(
        request,
        "reports.html",
        user=user,
        department=department,
        section="reports",
        report=figures,
        compared=compared,
        charts=_charts(figures, t, said),
        since=since.isoformat(),
        until=until.isoformat(),
        quick=_quick_ranges(_today(request, zone_name), t),
        before=[local_day(day, t.language) for day in before],
        zone_said=said,
    )


def _span(since: date, until: date, zone_name: str) -> tuple[datetime, datetime]:
    """From the start of ``since`` to the end of ``until`` (both days included)."""
    start, end = _start(since, zone_name), _start(until + timedelta(days=1), zone_name)
    assert start is not None and end is not None
    return start, end


def _quick_ranges(today: date, t: Texts) -> list[tuple[str, str, str]]:
    """(label, since, until) of today, the last 7 days and the last 30 days."""
    return [
        (t(key), (today - timedelta(days=days - 1)).isoformat(), today.isoformat())
        for key, days in QUICK_RANGES.items()
    ]


def _charts(figures: Report, t: Texts, zone_said: str) -> list[BarChart]:
    hours = bar_chart(
        t("console.chart_hours", zone=zone_said),
        [f"{h:02d}" for h in range(24)],
        list(figures.by_hour),
        label_every=3,
    )
    ratings = bar_chart(
        t("console.chart_ratings"), ["1", "2", "3", "4", "5"], list(figures.distribution)
    )
    agents = bar_chart(
        t("console.chart_agents"),
        [line.name for line in figures.agents[:8]],
        [line.chats for line in figures.agents[:8]],
    )
    return [hours, ratings, agents, *_breach_charts(figures, t)]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/live", live)
    app.router.add_get("/console/live/events", live_events)
    app.router.add_get("/console/history", history)
    app.router.add_get("/console/history.csv", history_csv)
    app.router.add_get("/console/chats/{ref}", chat)
    app.router.add_get("/console/chats/{ref}/transcript", chat_transcript)
    app.router.add_get("/console/reports", reports)
