"""When a failed send is tried again: the channel's ``Retry-After`` when it gives one,
else an exponential back-off with jitter (replicas retrying together would otherwise
hit the connector in step)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.sdk import DeliveryError


@dataclass(frozen=True)
class Backoff:
    base: float
    most: float

    def delay(self, attempts: int, error: DeliveryError) -> float:
        """Seconds to wait after the ``attempts``-th failure ending in ``error``."""
        if error.retry_after is not None:
            return min(error.retry_after, self.most * 5)
        ceiling = min(self.most, self.base * 2**attempts)
        return ceiling * random.uniform(0.5, 1.0)
