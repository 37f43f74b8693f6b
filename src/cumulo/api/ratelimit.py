"""Rate limits keyed by client IP or API key, on token buckets (``cumulo.core.buckets``): in memory for
one process, or in a memory-mapped file that every API process of the server shares
(``CUMULO_API_PROCESSES`` > 1), so a key gets its limit once, not once per process."""

from __future__ import annotations

import math
import time
from pathlib import Path

from cumulo.core.buckets import MemoryBuckets, SharedBuckets
from cumulo.core.config import parse_rate
from cumulo.core.errors import RateLimited

__all__ = ["MemoryBuckets", "RateLimiter", "SharedBuckets"]


class RateLimiter:
    """``limit`` requests per ``period`` seconds, with a burst of ``limit``; buckets in memory, or in
    ``shared`` (a file path) when several processes serve the same clients."""

    def __init__(self, rate: str, max_keys: int = 100_000, shared: Path | None = None):
        self.limit, self.period = parse_rate(rate)
        self.refill = self.limit / self.period
        self.buckets: MemoryBuckets | SharedBuckets = SharedBuckets(shared) if shared else MemoryBuckets(max_keys)

    def hit(self, key: str) -> None:
        """Take one token for ``key`` or raise ``RateLimited`` with the seconds to wait."""
        wait = self.buckets.take(key, float(self.limit), self.refill, time.monotonic())
        if wait > 0.0:
            raise RateLimited(math.ceil(wait))
