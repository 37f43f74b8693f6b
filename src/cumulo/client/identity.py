"""Identity calls: register, login, verify, keys, logout; administrators: users and roles."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from cumulo.client.transport import ApiError, Transport


class Identity:
    def __init__(self, client: Transport):
        self.c = client

    def register(self, email: str, password: str, name: str) -> dict[str, Any]:
        return self.c.post("/auth/register", {"email": email, "password": password, "name": name})

    def login(self, email: str, password: str) -> dict[str, Any]:
        """Log in and use the returned key for the following calls."""
        out = self.c.post("/auth/login", {"email": email, "password": password})
        self.c.api_key = out["api_key"]
        return out

    def me(self) -> dict[str, Any]:
        return self.c.get("/auth/me")

    def forgot_password(self, email: str) -> dict[str, Any]:
        return self.c.post("/auth/forgot-password", {"email": email})

    def reset_password(self, token: str, new_password: str) -> dict[str, Any]:
        return self.c.post("/auth/reset-password", {"token": token, "new_password": new_password})

    def keys(self) -> list[dict[str, Any]]:
        return self.c.get("/auth/keys")

    def create_key(self, name: str) -> dict[str, Any]:
        return self.c.post("/auth/keys", {"name": name})

    def rotate_key(self, key_id: str) -> dict[str, Any]:
        return self.c.post(f"/auth/keys/{key_id}/rotate")

    def revoke_key(self, key_id: str) -> None:
        self.c.delete(f"/auth/keys/{key_id}")

    def verify(self, token: str) -> dict[str, Any]:
        """Confirm the e-mail address with the token of the verification mail."""
        return self.c.get(f"/auth/verify/{quote(token, safe='')}")

    def logout(self) -> str | None:
        """Revoke the key this client uses; returns its id (None when the server has no record of it).
        ``POST /auth/logout`` where the server has it, else the key found by its prefix and revoked."""
        key = self.c.api_key or ""
        mine = [k for k in self.keys() if k.get("prefix") and key.startswith(k["prefix"])]
        try:
            self.c.post("/auth/logout")
        except ApiError as exc:
            if exc.status not in (404, 405):
                raise
            if len(mine) != 1:
                return None
            self.revoke_key(mine[0]["id"])
        return mine[0]["id"] if len(mine) == 1 else None

    # --- administrators ---------------------------------------------------------------
    def users(self) -> list[dict[str, Any]]:
        return self.c.get("/admin/users")

    def set_role(self, user_id: str, role: str) -> dict[str, Any]:
        """``role``: ``admin`` or ``user``."""
        return self.c.put(f"/admin/users/{quote(user_id, safe='')}/role", {"role": role})
