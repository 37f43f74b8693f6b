"""Authenticated keys cached briefly in memory so a hot API does not hit the database per call.

Revocation and rotation in this process evict at once; other processes (``cumulo api`` scaled
out) see a revocation within ``ttl`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cumulo.core.principal import Principal


@dataclass
class Entry:
    principal: Principal
    expires: float
    touched: float


class KeyCache:
    def __init__(self, ttl: float = 5.0, max_entries: int = 50_000):
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[str, Entry] = {}

    def get(self, key_hash: str) -> Entry | None:
        entry = self._entries.get(key_hash)
        if entry and entry.expires > time.monotonic():
            return entry
        return None

    def put(self, key_hash: str, principal: Principal, touched: float) -> Entry:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        entry = Entry(principal, time.monotonic() + self.ttl, touched)
        self._entries[key_hash] = entry
        return entry

    def evict(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)

    def evict_user(self, user_id: str) -> None:
        for h in [h for h, e in self._entries.items() if e.principal.user_id == user_id]:
            del self._entries[h]
