"""How the console's templates write times, durations and channels: in the page's
language (``t.language``) and the department's time zone (``zone_name`` in the page's
context), never UTC stamps, "5m 55s" or a channel's id.

Each filter takes the page's context, so a template only writes ``{{ at|when }}``,
``{{ seconds|duration }}`` or ``{{ chat.channel|channel }}``; the words themselves come
from the one definition each has below the web layer (``cards/times.py``,
``store/channels.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2

from cards.times import exact_duration, local_time
from store.channels import facts


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


def channel(channel_id: str) -> str:
    """A channel by the name people call it ("Website", "Zalo"), not its id."""
    return facts(channel_id).name


FILTERS = {"duration": duration, "when": when, "channel": channel}
