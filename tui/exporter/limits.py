"""The exporter's bounds: a token bucket for the check rate."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """*rate* tokens a second, at most *burst* saved up; :meth:`take` never waits."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.clock = clock
        self._tokens = self.burst
        self._at = clock()

    def take(self) -> bool:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
