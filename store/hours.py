"""Business hours: when a department's team is there, read and changed.

Hours are kept in the department's own time zone (IANA name), so a team in Hanoi
opens at 08:00 Hanoi time whatever the server's zone, across daylight-saving changes.
Days are ISO weekdays (1 Monday ... 7 Sunday).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.console_models import DepartmentHours
from store.models import Department


@dataclass(frozen=True)
class BusinessHours:
    time_zone: str
    days: tuple[int, ...]  # ISO weekdays, 1 = Monday
    opens: time
    closes: time

    def local(self, now: datetime) -> datetime:
        return now.astimezone(ZoneInfo(self.time_zone))

    def is_open(self, now: datetime) -> bool:
        local = self.local(now)
        return local.isoweekday() in self.days and self.opens <= local.time() < self.closes

    def back_at(self, now: datetime) -> datetime | None:
        """When the team is next there, in the department's zone; None while open (or
        when no day is open at all)."""
        if self.is_open(now) or not self.days:
            return None
        local = self.local(now)
        zone = ZoneInfo(self.time_zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            start = datetime.combine(day, self.opens, zone)
            if day.isoweekday() in self.days and start > local:
                return start
        return None


    def after(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of open time have passed since ``start`` (a response
        target counts only the hours the team is there). No day open: plain time."""
        if not self.days:
            return start + timedelta(seconds=seconds)
        zone = ZoneInfo(self.time_zone)
        left = timedelta(seconds=seconds)
        local = self.local(start)
        # A target spans at most a few weeks of open days; a bound keeps a bad row finite.
        for offset in range(400):
            day = local.date() + timedelta(days=offset)
            if day.isoweekday() not in self.days:
                continue
            opens = datetime.combine(day, self.opens, zone)
            closes = datetime.combine(day, self.closes, zone)
            begin = max(opens, local)
            if begin >= closes:
                continue
            if begin + left <= closes:
                return (begin + left).astimezone(start.tzinfo)
            left -= closes - begin
        return start + timedelta(seconds=seconds)


class BadHours(ValueError):
    """Hours that cannot be kept; the message says which field and why."""


def parse_hours(time_zone: str, days: list[str], opens: str, closes: str) -> BusinessHours:
    """Hours from a settings form, checked (refused with the reason otherwise)."""
    zone = time_zone.strip()
    try:
        if zone not in available_timezones():
            raise ZoneInfoNotFoundError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadHours(f"unknown time zone {zone!r}") from None
    try:
        picked = tuple(sorted({int(day) for day in days}))
    except ValueError:
        raise BadHours("days must be weekday numbers") from None
    if any(day not in range(1, 8) for day in picked):
        raise BadHours("days must be weekday numbers")
    if not picked:
        raise BadHours("tick at least one day (no hours: always open)")
    try:
        start, end = time.fromisoformat(opens), time.fromisoformat(closes)
    except ValueError:
        raise BadHours("opening and closing times must be like 08:00") from None
    if end <= start:
        raise BadHours("the closing time must be after the opening time")
    return BusinessHours(zone, picked, start.replace(second=0), end.replace(second=0))


def from_row(row: DepartmentHours) -> BusinessHours:
    return BusinessHours(
        row.time_zone,
        tuple(int(day) for day in row.days),
        time.fromisoformat(row.opens),
        time.fromisoformat(row.closes),
    )


async def hours_of(session: AsyncSession, department_id: int) -> BusinessHours | None:
    row = await session.get(DepartmentHours, department_id)
    return from_row(row) if row is not None else None


async def back_at(session: AsyncSession, department_id: int, now: datetime) -> datetime | None:
    """When a department outside its hours is back (None: open now, or no hours set)."""
    row = await session.scalar(
        select(DepartmentHours).where(DepartmentHours.department_id == department_id)
    )
    return from_row(row).back_at(now) if row is not None else None


async def department_zone(session: AsyncSession, department_id: int) -> str | None:
    """The zone a department's times are shown in: the one set for it (``@Bot timezone``),
    else its business hours' zone; None: neither, the bridge's ``TIME_ZONE`` applies.
    One statement."""
    found = (
        await session.execute(
            select(Department.time_zone, DepartmentHours.time_zone)
            .select_from(Department)
            .outerjoin(DepartmentHours, DepartmentHours.department_id == Department.id)
            .where(Department.id == department_id)
        )
    ).first()
    if found is None:
        return None
    return found[0] or found[1] or None
