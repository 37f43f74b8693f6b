"""API gateway calls: routes, route keys, and the data plane's CA certificate."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


class Routes:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, target: str, prefix: str = "/", **fields: Any) -> dict[str, Any]:
        """``fields``: strip_prefix, methods, hostname, timeout_seconds, preserve_host,
        require_api_key, rate_limit (requests/second per client)."""
        body = {"name": name, "target": target, "prefix": prefix, **{k: v for k, v in fields.items() if v is not None}}
        return self.c.post("/routes", body)

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/routes")

    def get(self, route: str) -> dict[str, Any]:
        return self.c.get(f"/routes/{route}")

    def delete(self, route: str) -> None:
        self.c.delete(f"/routes/{route}")

    def create_key(self, route: str, name: str = "default") -> dict[str, Any]:
        """A key for callers of this route only; ``key`` is shown once."""
        return self.c.post(f"/routes/{route}/keys", {"name": name})

    def keys(self, route: str) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/routes/{route}/keys")

    def delete_key(self, route: str, key_id: str) -> None:
        self.c.delete(f"/routes/{route}/keys/{key_id}")

    def gateway(self) -> dict[str, Any]:
        """The proxy's public ports and base domain."""
        return self.c.get("/gateway")

    def ca_certificate(self) -> str:
        """PEM of the internal CA that signs HTTPS hostnames."""
        return str(self.c.get("/gateway/ca.pem"))
