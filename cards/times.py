"""Times as people read them: durations and relative times in the reader's language,
clock times in the team's time zone (``TIME_ZONE``), never UTC stamps or "0m 06s"."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.core import get_global
from babel.dates import (
    format_date,
    format_datetime,
    format_timedelta,
    get_timezone_gmt,
    get_timezone_location,
)

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


# The units a precise duration is said in, largest first (seconds each).
_UNITS = (86400, 3600, 60, 1)


def exact_duration(span: timedelta | float | None, language: str) -> str:
    """ "5 phút 55 giây", "1 hour 5 minutes": the two largest units, for figures people
    compare (a report's median, a chat's length), where "6 phút" would round too much;
    "-" for nothing measured. Each unit is said by Babel, as ``duration`` says it."""
    if span is None:
        return "-"
    seconds = max(0, round(span.total_seconds() if isinstance(span, timedelta) else span))
    for index, unit in enumerate(_UNITS):
        if seconds >= unit:
            count, rest = divmod(seconds, unit)
            parts = [_said(count * unit, language)]
            smaller = _UNITS[index + 1] if index + 1 < len(_UNITS) else None
            if smaller and rest // smaller:
                parts.append(_said(rest // smaller * smaller, language))
            return " ".join(parts)
    return _said(0, language)


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


def local_day(day: date, language: str) -> str:
    """A day in the reader's language ("27 thg 11, 2026", "Nov 27, 2026")."""
    return format_date(day, "medium", locale=language)


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


def zone_said(zone_name: str | None, at: datetime, language: str) -> str:
    """A zone as people name it, with its offset at ``at``: "Giờ Việt Nam, TP Hồ Chí Minh
    (GMT+07:00)", "Japan Time, Tokyo (GMT+09:00)"; said once on a page whose times are in
    it, so that they are unambiguous (never the raw IANA name, never "UTC")."""
    tz = zone(zone_name)
    gmt = get_timezone_gmt(at.astimezone(tz), "long", locale=language)
    if tz.key == DEFAULT_ZONE:
        return gmt
    place = get_timezone_location(tz, locale=language)
    city = get_timezone_location(tz, locale=language, return_city=True)
    if city not in place:
        place = f"{place}, {city}"
    return f"{place} ({gmt})"


@lru_cache(maxsize=8)
def _zone_choices(language: str, day: date) -> tuple[tuple[str, str], ...]:
    aliases = get_global("zone_aliases")
    noon = datetime.combine(day, time(12), ZoneInfo(DEFAULT_ZONE))
    names = [
        name
        for name in available_timezones()
        if "/" in name and name not in aliases and not name.startswith(_NOT_PLACES)
    ]
    names.append(DEFAULT_ZONE)
    offset = {name: noon.astimezone(ZoneInfo(name)).utcoffset() for name in names}
    said = {name: zone_said(name, noon, language) for name in names}
    return tuple((name, said[name]) for name in sorted(names, key=lambda n: (offset[n], said[n])))


# Zone names that are no place a team is in (offset-only zones, old System V names).
_NOT_PLACES = ("Etc/", "SystemV/", "posix/", "right/")


def zone_choices(language: str, now: datetime, current: str | None) -> list[tuple[str, str]]:
    """Every IANA zone a team may be in, as (name, label) by offset then label, for a
    picker; ``current`` among them even when it is an older alias."""
    choices = list(_zone_choices(language, now.date()))
    if current and valid_zone(current) and current not in dict(choices):
        choices.insert(0, (current, zone_said(current, now, language)))
    return choices
