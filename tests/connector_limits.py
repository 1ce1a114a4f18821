"""Teams' rate limits for the connector emulator: 429 above them, as the real service does.

Microsoft documents a bot's limits per thread (7 sends in 1 s, 8 in 2 s, 60 in 30 s,
1,800 an hour) and counts a channel as one thread; whether a channel's reply threads
share one budget is not certain, so both are offered: ``per_channel`` counts every
thread of a channel (``<channel>;messageid=<root>``) in the channel's budget.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

TEAMS_THREAD_LIMITS: tuple[tuple[int, float], ...] = (
    (7, 1.0),
    (8, 2.0),
    (60, 30.0),
    (1800, 3600.0),
)


@dataclass
class ThreadLimits:
    """Sliding windows of accepted sends per thread (or per channel); counts the 429s."""

    windows: Sequence[tuple[int, float]] = TEAMS_THREAD_LIMITS
    per_channel: bool = False
    retry_after: float = 1.0
    throttled: int = 0
    _sent: dict[str, list[float]] = field(default_factory=dict)

    def budget(self, conversation_id: str) -> str:
        if self.per_channel:
            return conversation_id.split(";messageid=", 1)[0]
        return conversation_id

    def admit(self, conversation_id: str, now: float) -> bool:
        """Count a send if every window has room; False (a 429 to answer) if not."""
        sent = self._sent.setdefault(self.budget(conversation_id), [])
        span = max(seconds for _, seconds in self.windows)
        del sent[: bisect.bisect_right(sent, now - span)]
        for sends, seconds in self.windows:
            if len(sent) >= sends and sent[-sends] > now - seconds:
                self.throttled += 1
                return False
        sent.append(now)
        return True
