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

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
