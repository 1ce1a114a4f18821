"""Room commands of the supervisors' console: ``@Bot console`` and ``@Bot report``.

``console`` sends the writer, if they supervise the room's department, a one-time
sign-in link in a *personal* Teams message (the channel must never see it: whoever
holds the link signs in as them).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from cards.report import report_card
from cards.request import card_activity
from cards.times import zone, zone_said
from dialogs.context import FlowContext
from dialogs.notices import mention_answer, mention_reply
from dialogs.replies import refusal_key, text_activity, to_conversation
from dialogs.turn import Turn
from store import Store, console, console_sessions, hours, report_days, reports
from store.console import LinkIssued
from store.outbox import Outgoing
from store.reports import Report
from store.vocabulary import Refused, SendPersonal

# A sign-in link is good for one use within this time.
LINK_TTL = timedelta(minutes=10)
# A report's periods, each with its text's key.
PERIOD_KEYS = {
    "today": "report.period_today",
    "week": "report.period_week",
    "month": "report.period_month",
}
PERIODS = tuple(PERIOD_KEYS)
SIGN_OUT_WORDS = ("signout", "sign-out", "logout")
# Settled days kept in one write unit: a year's first report writes a dozen short units
# rather than one that holds SQLite's writer for a year of rows.
KEEP_DAYS_PER_UNIT = 31


def to_person(room: dict[str, Any], teams_id: str, activity: dict[str, Any]) -> Outgoing:
    """A personal (1:1) Teams message to ``teams_id``, opened through the room's service
    URL, bot and tenant when it is delivered."""
    return Outgoing.of(f"personal:{teams_id}", SendPersonal(room, {"id": teams_id}, activity))


def console_url(ctx: FlowContext, path: str, **query: str) -> str:
    base = f"{ctx.public_url.rstrip('/')}/console/{path}"
    return f"{base}?{urlencode(query)}" if query else base


async def console_link(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot console``: a sign-in link in a personal message, and a note in the room;
    ``@Bot console signout``: the writer's console sessions end on every device."""
    async with ctx.store.unit() as tx:
        if not await tx.first_time(turn.keys):
            return
        if turn.argument.strip().lower() in SIGN_OUT_WORDS:
            await console_sessions.do_sign_out_everywhere(tx, turn.person)
            tx.enqueue([mention_answer(ctx, turn, "console.signed_out_everywhere")])
            return
        outcome = await console.do_issue_console_link(tx, turn.room, turn.person, LINK_TTL)
        tx.enqueue(notify_console_link(ctx, turn, outcome))


def notify_console_link(
    ctx: FlowContext, turn: Turn, outcome: LinkIssued | Refused
) -> list[Outgoing]:
    """The link in a personal message, and a note in the room (or why not)."""
    if isinstance(outcome, Refused):
        return [mention_answer(ctx, turn, refusal_key(outcome.reason))]
    url = console_url(ctx, f"signin/{outcome.token}")
    minutes = int(LINK_TTL.total_seconds() // 60)
    text = ctx.team_texts("console.link", url=url, minutes=minutes)
    return [
        to_person(turn.reference, outcome.person.teams_id, text_activity(text)),
        mention_answer(ctx, turn, "console.link_sent"),
    ]


def period_range(word: str, now: datetime, zone_name: str) -> tuple[datetime, datetime]:
    """``today`` (since midnight in the department's zone), ``week`` (7 days), ``month``
    (30 days), to now."""
    if word == "today":
        local = now.astimezone(zone(zone_name))
        return local.replace(hour=0, minute=0, second=0, microsecond=0), now
    return now - timedelta(days=7 if word == "week" else 30), now


async def read_report(
    store: Store, department_id: int, since: datetime, until: datetime, zone_name: str = "UTC"
) -> Report:
    """A report's figures for the room and the console (``reports.rolled_report``, read
    beside the writer); the settled days it had to read live, and the first days of
    whole months with the months' sums, are kept for the next one in short write units
    after the read."""
    async with store.reading() as tx:
        figures, settled = await reports.rolled_report(
            tx, department_id, since, until, zone_name
        )
    days = sorted(settled.items())
    for start in range(0, len(days), KEEP_DAYS_PER_UNIT):
        async with store.unit() as tx:
            part = dict(days[start : start + KEEP_DAYS_PER_UNIT])
            await report_days.do_keep_report_days(tx, department_id, part)
    return figures


async def report(ctx: FlowContext, turn: Turn) -> None:
    """``@Bot report [today|week|month]``: the department's figures as a card."""
    word = (turn.argument or "today").strip().lower()
    if word not in PERIODS:
        await mention_reply(ctx, turn, "report.usage")
        return
    async with ctx.store.reading() as tx:
        department = await console.room_department(tx, turn.room)
    if department is None:
        await mention_reply(ctx, turn, "refusal.not_a_room")
        return
    async with ctx.store.reading() as tx:
        zone_name = await hours.department_zone(tx.session, department.id) or ctx.time_zone
    since, until = period_range(word, ctx.store.clock(), zone_name)
    figures = await read_report(ctx.store, department.id, since, until, zone_name)
    t = ctx.team_texts
    url = console_url(
        ctx,
        "reports",
        dept=department.key,
        since=since.astimezone(zone(zone_name)).date().isoformat(),
        until=until.astimezone(zone(zone_name)).date().isoformat(),
    )
    period = t(PERIOD_KEYS[word])
    said = zone_said(zone_name, until, t.language)
    card = report_card(figures, t, department=department.name, period=period, url=url, zone=said)
    summary = t("report.title", department=department.name, period=period)
    await ctx.store.notify(
        turn.keys, [to_conversation(turn.reference, card_activity(card, summary))]
    )
