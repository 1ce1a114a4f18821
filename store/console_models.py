"""Tables of the supervisors' console and of satisfaction ratings.

Kept apart from ``store.models`` (which is at its size limit); they share its ``Base``,
and ``store`` imports this module, so the metadata always holds them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
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


class Rating(Base):
    """A customer's satisfaction rating of a closed chat: one per chat (the primary key)."""

    __tablename__ = "ratings"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), primary_key=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
