"""Managed cache calls (``/caches``, Redis)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport

LONG = 300.0


class Caches:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, memory_mb: int = 64, **fields: Any) -> dict[str, Any]:
        body = {"name": name, "memory_mb": memory_mb, **{k: v for k, v in fields.items() if v is not None}}
        return self.c.post("/caches", body, timeout=LONG)

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/caches")

    def get(self, cache: str) -> dict[str, Any]:
        return self.c.get(f"/caches/{cache}")

    def delete(self, cache: str) -> None:
        self.c.delete(f"/caches/{cache}", timeout=LONG)

    def flush(self, cache: str) -> dict[str, Any]:
        return self.c.post(f"/caches/{cache}/flush", timeout=LONG)

    def metrics(self, cache: str, since: str | None = None) -> dict[str, Any]:
        """The cache server's recorded CPU/memory points (default: the last hour)."""
        return self.c.get(f"/caches/{cache}/metrics/series", params={"since": since} if since else None)

    def stats(self, cache: str) -> dict[str, Any]:
        return self.c.get(f"/caches/{cache}/stats")

    def rotate_password(self, cache: str) -> dict[str, Any]:
        return self.c.post(f"/caches/{cache}/credentials/rotate", timeout=LONG)

    def reboot(self, cache: str) -> dict[str, Any]:
        return self.c.post(f"/caches/{cache}/reboot", timeout=LONG)

    def stop(self, cache: str) -> dict[str, Any]:
        return self.c.post(f"/caches/{cache}/stop", timeout=LONG)

    def start(self, cache: str) -> dict[str, Any]:
        return self.c.post(f"/caches/{cache}/start", timeout=LONG)
