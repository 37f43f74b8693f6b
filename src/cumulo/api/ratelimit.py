"""Token buckets, in memory, keyed by client IP or API key."""

from __future__ import annotations

import math
import time

from cumulo.core.config import parse_rate
from cumulo.core.errors import RateLimited


class RateLimiter:
    """``limit`` requests per ``period`` seconds, with a burst of ``limit``."""

    def __init__(self, rate: str, max_keys: int = 100_000):
        self.limit, self.period = parse_rate(rate)
        self.refill = self.limit / self.period
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def hit(self, key: str) -> None:
        """Take one token for ``key`` or raise ``RateLimited`` with the seconds to wait."""
        now = time.monotonic()
        tokens, stamp = self._buckets.get(key, (float(self.limit), now))
        tokens = min(float(self.limit), tokens + (now - stamp) * self.refill)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimited(math.ceil((1.0 - tokens) / self.refill))
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._prune(now)
        self._buckets[key] = (tokens - 1.0, now)

    def _prune(self, now: float) -> None:
        full = [k for k, (t, s) in self._buckets.items() if t + (now - s) * self.refill >= self.limit]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()
