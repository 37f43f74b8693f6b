"""Apps calls: git-push hosting (create, list, status, config, releases, rollback, domains, logs)."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


class Apps:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, **fields: Any) -> dict[str, Any]:
        """``fields``: branch, git_url, git_secret, env_vars, app_type, replicas, memory_mb."""
        return self.c.post("/apps", {"name": name, **{k: v for k, v in fields.items() if v is not None}})

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/apps")

    def get(self, app: str) -> dict[str, Any]:
        return self.c.get(f"/apps/{app}")

    def update(self, app: str, **fields: Any) -> dict[str, Any]:
        return self.c.request("PATCH", f"/apps/{app}", json=fields)

    def delete(self, app: str) -> None:
        self.c.delete(f"/apps/{app}")

    def deploy(self, app: str) -> dict[str, Any]:
        return self.c.post(f"/apps/{app}/deploy")

    def start(self, app: str) -> dict[str, Any]:
        return self.c.post(f"/apps/{app}/start")

    def stop(self, app: str) -> dict[str, Any]:
        return self.c.post(f"/apps/{app}/stop")

    def restart(self, app: str) -> dict[str, Any]:
        return self.c.post(f"/apps/{app}/restart")

    def logs(self, app: str, tail: int = 100) -> builtins.list[str]:
        return self.c.get(f"/apps/{app}/logs", params={"tail": tail})

    def follow_logs(self, app: str, tail: int = 100, timeout: float | None = None) -> Iterator[str]:
        """The last ``tail`` lines, then each new line as the app writes it (until closed);
        ``timeout``: the longest wait for a line (None: forever)."""
        with self.c.stream("GET", f"/apps/{app}/logs", params={"tail": tail, "follow": "true"},
                           timeout=timeout) as response:
            yield from response.iter_lines()

    def releases(self, app: str) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/apps/{app}/releases")

    def rollback(self, app: str, release: int | None = None) -> dict[str, Any]:
        return self.c.post(f"/apps/{app}/rollback", {"release": release})

    def builds(self, app: str) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/apps/{app}/builds")

    def build_log(self, app: str, build: str | int) -> str:
        return self.c.get(f"/apps/{app}/builds/{build}/log")

    def config(self, app: str) -> dict[str, str]:
        return self.c.get(f"/apps/{app}/config")

    def set_config(self, app: str, values: dict[str, str] | None = None,
                   unset: builtins.list[str] | None = None) -> dict[str, str]:
        return self.c.request("PATCH", f"/apps/{app}/config",
                              json={"set": values or {}, "unset": unset or []})

    def domains(self, app: str) -> builtins.list[str]:
        return self.c.get(f"/apps/{app}/domains")

    def add_domain(self, app: str, hostname: str) -> dict[str, Any]:
        return self.c.post(f"/apps/{app}/domains", {"hostname": hostname})

    def remove_domain(self, app: str, hostname: str) -> None:
        self.c.delete(f"/apps/{app}/domains/{hostname}")

    def purge_cache(self, app: str) -> None:
        self.c.post(f"/apps/{app}/purge-cache")

    def upload(self, app: str, archive: bytes, timeout: float = 1200) -> Iterator[dict[str, Any]]:
        """Deploy a .tar.gz, .tar or .zip of the tree; yields ``{"log": ...}`` items, then
        ``{"release": ...}`` or ``{"error": ...}``."""
        with self.c.stream("POST", f"/apps/{app}/source", content=archive, timeout=timeout) as response:
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)
