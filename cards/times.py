"""Times as people read them: durations and relative times in the reader's language,
clock times in the team's time zone (``TIME_ZONE``), never UTC stamps or "0m 06s"."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime, format_timedelta

DEFAULT_ZONE = "UTC"


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name`` names; UTC for an empty or unknown name (a typo in the
    settings must not stop the bridge; the settings check reports it)."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def duration(span: timedelta, language: str) -> str:
    """ "13 giây", "6 phút", "2 hours": one unit, rounded the way people say it."""
    return _said(max(0, int(span.total_seconds())), language)


def ago(span: timedelta, language: str) -> str:
    """ "6 phút trước", "6 minutes ago"."""
    return _said(-max(1, int(span.total_seconds())), language)


@lru_cache(maxsize=4096)
def _said(seconds: int, language: str) -> str:
    """Babel's words for a whole number of seconds (negative: in the past), kept: every
    card names a duration, and Babel takes longer to say one than the card takes to build."""
    return format_timedelta(
        timedelta(seconds=seconds),
        threshold=1,
        granularity="second",
        add_direction=seconds < 0,
        locale=language,
    )


def local_time(at: datetime, zone_name: str | None, language: str) -> str:
    """A moment in the team's zone, in the reader's language ("25/11/2026, 16:05")."""
    return format_datetime(at, "short", tzinfo=zone(zone_name), locale=language)


def zone_label(at: datetime, zone_name: str | None) -> str:
    """ "UTC+07:00": said once on a page so that its times are unambiguous."""
    offset = at.astimezone(zone(zone_name)).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"


def day_and_time(at: datetime, now: datetime, zone_name: str | None, language: str) -> str:
    """A moment soon, said as people say it: "14:05 today", "14:05 ngày mai", or with its
    date when it is further away."""
    local, today = at.astimezone(zone(zone_name)), now.astimezone(zone(zone_name)).date()
    clock = format_datetime(local, "HH:mm", locale=language)
    days = (local.date() - today).days
    words = {
        "vi": {0: "hôm nay", 1: "ngày mai"},
        "en": {0: "today", 1: "tomorrow"},
    }.get(language[:2], {0: "today", 1: "tomorrow"})
    if days in words:
        return f"{clock} {words[days]}"
    return local_time(at, zone_name, language)
