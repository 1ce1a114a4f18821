"""What the current turn is about, for every log line it writes (``LOG_FORMAT=json``).

Context variables follow the task: an inbound request sets the activity, the store sets
the chat when it reads one, and each outbox lane sets the item it is sending. They sit
in the lowest layer so that the store can fill them in without importing the bot.
"""

from __future__ import annotations

from contextvars import ContextVar

ACTIVITY_ID: ContextVar[str | None] = ContextVar("activity_id", default=None)
ACTIVITY_TYPE: ContextVar[str | None] = ContextVar("activity_type", default=None)
CHAT_ID: ContextVar[int | None] = ContextVar("chat_id", default=None)


def begin(activity_id: str | None, activity_type: str | None, chat_id: int | None = None) -> None:
    """Start a new unit of work in this task: forget what an earlier one (or the task's
    creator) had set."""
    ACTIVITY_ID.set(activity_id)
    ACTIVITY_TYPE.set(activity_type)
    CHAT_ID.set(chat_id)
