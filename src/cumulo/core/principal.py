"""Who is calling: the authenticated user behind an API key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    user_id: str
    email: str
    name: str
    role: str
    key_id: str
    scopes: tuple[str, ...] = ()  # empty: the key may do everything its user may ("read-only", service names)
    expires_at: float | None = None  # the key's expiry (UNIX time), None: never

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def scoped(self) -> bool:
        return bool(self.scopes)
