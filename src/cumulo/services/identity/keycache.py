"""Authenticated keys cached briefly in memory so a hot API does not hit the database twice per call.

Revocation and rotation in this process evict at once. With several API processes
(``CUMULO_API_PROCESSES`` > 1) the cache is off (``ttl`` 0), so a revoked key is refused at once by
every process. ``due_for_touch`` spaces out the writes of ``api_keys.last_used`` for busy keys.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cumulo.core.principal import Principal


@dataclass
class Entry:
    principal: Principal
    expires: float


class KeyCache:
    def __init__(self, ttl: float = 5.0, touch_every: float = 30.0, max_entries: int = 50_000):
        self.ttl, self.touch_every, self.max_entries = ttl, touch_every, max_entries
        self._entries: dict[str, Entry] = {}
        self._touched: dict[str, float] = {}

    def get(self, key_hash: str) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry and entry.expires > time.monotonic():
            return entry.principal
        return None

    def put(self, key_hash: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key_hash] = Entry(principal, time.monotonic() + self.ttl)

    def due_for_touch(self, key_id: str) -> bool:
        """True at most once per ``touch_every`` seconds per key (and the first time)."""
        now = time.monotonic()
        if now - self._touched.get(key_id, -1e9) < self.touch_every:
            return False
        if len(self._touched) >= self.max_entries:
            self._touched.clear()
        self._touched[key_id] = now
        return True

    def evict(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)

    def evict_user(self, user_id: str) -> None:
        for h in [h for h, e in self._entries.items() if e.principal.user_id == user_id]:
            del self._entries[h]
