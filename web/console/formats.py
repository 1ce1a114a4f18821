"""How the console's templates write times, durations and channels: in the page's
language (``t.language``) and the department's time zone (``zone_name`` in the page's
context), never UTC stamps, "5m 55s" or a channel's id.

Each filter takes the page's context, so a template only writes ``{{ at|when }}``,
``{{ seconds|duration }}`` or ``{{ chat.channel|channel }}``; the words themselves come
from the one definition each has below the web layer (``cards/times.py``,
``store/channels.py``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jinja2
from babel.numbers import format_decimal

from cards.times import exact_duration, local_time, zone_said
from store.channels import facts

if TYPE_CHECKING:
    from store.console_settings import AuditLine


def _language(context: Any) -> str:
    return str(getattr(context.get("t"), "language", "en"))


@jinja2.pass_context
def duration(context: Any, seconds: float | None) -> str:
    """ "5 phút 55 giây" ("-" for nothing measured)."""
    return exact_duration(seconds, _language(context))


@jinja2.pass_context
def when(context: Any, at: datetime | None) -> str:
    """A moment in the department's zone, in the page's language ("27/11/2026, 16:05")."""
    if at is None:
        return "-"
    return local_time(at, context.get("zone_name"), _language(context))


@jinja2.pass_context
def decimal(context: Any, value: float | None) -> str:
    """ "4,50" in Vietnamese, "4.50" in English ("-" for nothing)."""
    return "-" if value is None else format_decimal(value, "0.00", locale=_language(context))


def channel(channel_id: str) -> str:
    """A channel by the name people call it ("Website", "Zalo"), not its id."""
    return facts(channel_id).name


# The label of each assignment mode (each key in full).
MODE_KEYS = {
    "broadcast": "console.assignment.broadcast",
    "round_robin": "console.assignment.round_robin",
    "least_busy": "console.assignment.least_busy",
}
# What each audited change is called (``audit.record``'s actions, each key in full).
AUDIT_KEYS = {
    "canned_added": "console.audit.canned_added",
    "canned_removed": "console.audit.canned_removed",
    "hours": "console.hours",
    "capacity": "console.capacity",
    "assignment": "console.assignment",
    "time_zone": "console.time_zone",
    "names": "console.names",
    "supervisor_added": "console.supervisor_add",
    "supervisor_removed": "console.supervisor_remove",
    "tag_added": "console.audit.tag_added",
    "tag_removed": "console.audit.tag_removed",
    "targets": "console.targets",
    "queue_priority_tag": "console.queue_priority",
    "unlink customers": "console.audit.unlinked",
}
DAY_KEYS = {
    "1": "console.day_1",
    "2": "console.day_2",
    "3": "console.day_3",
    "4": "console.day_4",
    "5": "console.day_5",
    "6": "console.day_6",
    "7": "console.day_7",
}


@jinja2.pass_context
def audited(context: Any, line: AuditLine) -> str:
    """An audit line's change in words ("Đã thêm nhãn: hóa-đơn"), not its stored action and
    JSON; an action this table does not know yet is shown as stored."""
    t = context["t"]
    detail = json.loads(line.detail or "{}")
    if line.action == "tag_required":
        return str(t("console.tag_required_on" if detail.get("on") else "console.tag_required_off"))
    if line.action == "first_bot":
        on = detail.get("first_bot")
        return str(t("console.first_bot_on" if on else "console.first_bot_off"))
    if line.action == "hours" and detail.get("hours") is None:
        return f"{t('console.hours')}: {t('console.hours_always')}"
    if line.action not in AUDIT_KEYS:
        return f"{line.action} {line.detail}"
    values = [_value(context, line, name, value) for name, value in sorted(detail.items())]
    said = "; ".join(value for value in values if value)
    return f"{t(AUDIT_KEYS[line.action])}: {said}"


def _value(context: Any, line: AuditLine, name: str, value: Any) -> str:
    """One value of an audited change in words ("" for a flag, said by the action)."""
    t = context["t"]
    if name == "days":
        return " ".join(t(DAY_KEYS[day]) for day in str(value) if day in DAY_KEYS)
    if name in ("time_zone", "zone") and value:
        return zone_said(str(value), line.at, _language(context))
    if line.action == "assignment" and value in MODE_KEYS:
        return str(t(MODE_KEYS[value]))
    if isinstance(value, dict):
        return ", ".join(str(given) for given in value.values())
    if isinstance(value, list):
        return ", ".join(str(given) for given in value)
    if value is None or isinstance(value, bool):
        return ""
    return str(value)


FILTERS = {
    "duration": duration,
    "when": when,
    "channel": channel,
    "audited": audited,
    "decimal": decimal,
}
