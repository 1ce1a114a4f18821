"""Tables of the supervisors' console and of satisfaction ratings.

Kept apart from ``store.models`` (which is at its size limit); they share its ``Base``,
and ``store`` imports this module, so the metadata always holds them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base


class ConsoleLink(Base):
    """A one-time sign-in link to the console, sent to a supervisor in Teams.

    Only the SHA-256 of the token is kept, so a database reader cannot sign in; the
    link is spent by one conditional UPDATE (``used_at IS NULL``, not expired).
    """

    __tablename__ = "console_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in browser of the console, so that a session can be ended on the server:
    by signing out, by "sign out everywhere", and when its supervisor loses the role.

    The cookie holds a random token; only its SHA-256 is kept. Every console request
    reads its row by that unique hash (one indexed read, with the supervisor's
    departments in the same statement); a row with ``revoked_at`` set, or past
    ``expires_at``, opens nothing. ``last_seen_at`` is written at most every few minutes.
    """

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_agent", "agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Rating(Base):
    """A customer's satisfaction rating of a closed chat: one per chat (the primary key)."""

    __tablename__ = "ratings"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), primary_key=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class DepartmentHours(Base):
    """A department's business hours: the same opening and closing time on each of its
    days, in its own time zone (no row: always open)."""

    __tablename__ = "department_hours"

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    # Days open, as ISO weekday digits without separators: "12345" is Monday to Friday.
    days: Mapped[str] = mapped_column(String(7))
    opens: Mapped[str] = mapped_column(String(5))  # "08:00"
    closes: Mapped[str] = mapped_column(String(5))  # "17:30", later than ``opens``


class AuditEntry(Base):
    """A change made in the console's settings: who, when, what (kept for good)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_department", "department_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class ReportDay(Base):
    """A department's report figures of one settled UTC day (``store.report_days``).

    Written once, when every chat the department received that day is closed and past
    the rating window: nothing can change them after that (closed chats do not reopen,
    move or change owner), so a year's report reads at most 366 of these rows plus the
    days still settling. ``figures`` is ``DayFigures.to_json()``; the first day of a
    whole settled month also holds the month's sums, and a report that covers the month
    reads that row alone.
    """

    __tablename__ = "report_days"

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
