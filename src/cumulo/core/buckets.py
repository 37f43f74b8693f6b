"""Token buckets keyed by any string (a client IP, a user, a route): ``MemoryBuckets`` for one
process, ``SharedBuckets`` in a memory-mapped file every process of the server shares, so a key gets
its limit once, not once per process. Used by the API's rate limits (``cumulo.api.ratelimit``) and
the gateway's per-route limits."""

from __future__ import annotations

import fcntl
import hashlib
import math
import mmap
import os
import struct
from pathlib import Path


class MemoryBuckets:
    def __init__(self, max_keys: int = 100_000):
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, limit: float, refill: float, now: float) -> float:
        """Take one token from ``key``'s bucket: 0 when taken, else the seconds until one is there."""
        tokens, stamp = self._buckets.get(key, (limit, now))
        tokens = min(limit, tokens + (now - stamp) * refill)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / refill
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._prune(limit, refill, now)
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0

    def _prune(self, limit: float, refill: float, now: float) -> None:
        full = [k for k, (t, s) in self._buckets.items() if t + (now - s) * refill >= limit]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


class SharedBuckets:
    """Buckets in a file mapped by several processes. A key hashes to a window of ``PROBE`` slots
    (fingerprint, tokens, stamp); the window is locked (``fcntl`` record lock) while one process
    updates it. A full window gives up the slot touched longest ago: that key starts again with a
    full bucket, which only ever errs on the generous side. ``time.monotonic`` is the same clock in
    every process on Linux."""

    SLOT = struct.Struct("<Qdd")
    SLOTS = 1 << 16
    PROBE = 8

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        size = self.SLOT.size * self.SLOTS
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size != size:
            os.ftruncate(self._fd, size)
        self._map = mmap.mmap(self._fd, size)

    def take(self, key: str, limit: float, refill: float, now: float) -> float:
        fingerprint = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") or 1
        first = fingerprint % (self.SLOTS - self.PROBE + 1)
        start, length = first * self.SLOT.size, self.PROBE * self.SLOT.size
        fcntl.lockf(self._fd, fcntl.LOCK_EX, length, start)
        try:
            slot, tokens, stamp = self._find(first, fingerprint, limit, now)
            tokens = min(limit, tokens + (now - stamp) * refill)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / refill
            self.SLOT.pack_into(self._map, slot * self.SLOT.size, fingerprint,
                                tokens - 1.0 if wait == 0.0 else tokens, now)
            return wait
        finally:
            fcntl.lockf(self._fd, fcntl.LOCK_UN, length, start)

    def _find(self, first: int, fingerprint: int, limit: float, now: float) -> tuple[int, float, float]:
        """The key's slot and its bucket (a fresh full one if the key has no slot yet)."""
        free, oldest, oldest_stamp = -1, first, math.inf
        for slot in range(first, first + self.PROBE):
            fp, tokens, stamp = self.SLOT.unpack_from(self._map, slot * self.SLOT.size)
            if fp == fingerprint:
                return slot, tokens, stamp
            if fp == 0 and free < 0:
                free = slot
            if stamp < oldest_stamp:
                oldest, oldest_stamp = slot, stamp
        return (free if free >= 0 else oldest), limit, now

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
