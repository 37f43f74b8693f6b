"""Compute calls: instances (launch, lifecycle, logs, stats, console) and images."""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport

STEADY = {"RUNNING", "STOPPED", "ERROR"}


class Instances:
    def __init__(self, client: Transport):
        self.c = client

    def launch(self, name: str, image: str, **fields: Any) -> dict[str, Any]:
        """``fields``: vpc_id, subnet_id, ports ("0:80"), volumes, env, command, cpus, memory_mb,
        env_secrets ({VAR: secret name}), password, ttl_seconds."""
        body = {"name": name, "image": image, **{k: v for k, v in fields.items() if v is not None}}
        return self.c.post("/instances", body)

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/instances")

    def get(self, instance: str) -> dict[str, Any]:
        return self.c.get(f"/instances/{instance}")

    def update(self, instance: str, **fields: Any) -> dict[str, Any]:
        return self.c.put(f"/instances/{instance}", fields)

    def stop(self, instance: str) -> dict[str, Any]:
        return self.c.post(f"/instances/{instance}/stop")

    def start(self, instance: str) -> dict[str, Any]:
        return self.c.post(f"/instances/{instance}/start")

    def reboot(self, instance: str) -> dict[str, Any]:
        return self.c.post(f"/instances/{instance}/reboot")

    def pause(self, instance: str) -> dict[str, Any]:
        return self.c.post(f"/instances/{instance}/pause")

    def resume(self, instance: str) -> dict[str, Any]:
        return self.c.post(f"/instances/{instance}/resume")

    def terminate(self, instance: str) -> None:
        self.c.delete(f"/instances/{instance}")

    def exec(self, instance: str, command: builtins.list[str], timeout: int = 60) -> dict[str, Any]:
        """Run ``command`` in the instance (no TTY): ``{exit_code, stdout, stderr, timed_out, truncated}``."""
        return self.c.post(f"/instances/{instance}/exec",
                           {"command": command, "timeout_seconds": timeout}, timeout=timeout + 30)

    def logs(self, instance: str, tail: int = 100) -> str:
        return self.c.get(f"/instances/{instance}/logs", params={"tail": tail}) or ""

    def stats(self, instance: str) -> dict[str, Any]:
        return self.c.get(f"/instances/{instance}/stats")

    def wait(self, instance: str, statuses: set[str] | None = None, timeout: float = 60.0,
             interval: float = 0.05) -> dict[str, Any]:
        """Poll until the instance reaches one of ``statuses`` (default: a steady state)."""
        wanted = statuses or STEADY
        deadline = time.monotonic() + timeout
        while True:
            inst = self.get(instance)
            if inst["status"] in wanted or time.monotonic() > deadline:
                return inst
            time.sleep(interval)

    def console_url(self, instance: str, cols: int = 80, rows: int = 24) -> str:
        base = self.c.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return f"{base}/instances/{instance}/console?cols={cols}&rows={rows}"

    def console(self, instance: str, cols: int = 80, rows: int = 24) -> Any:
        """A connected ``websockets`` (sync) connection to the instance's shell."""
        from websockets.sync.client import connect
        from websockets.typing import Subprotocol

        # the key travels in the X-API-Key header (never in the URL, which servers log)
        return connect(self.console_url(instance, cols, rows), additional_headers=self.c.headers(),
                       subprotocols=[Subprotocol("cumulo.console")], open_timeout=15, max_size=None)


class Images:
    def __init__(self, client: Transport):
        self.c = client

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/images")

    def get(self, image: str) -> dict[str, Any]:
        return self.c.get(f"/images/{image}")

    def log(self, image: str) -> str:
        return self.c.get(f"/images/{image}/log") or ""

    def delete(self, image: str) -> None:
        self.c.delete(f"/images/{image}")

    def build(self, name: str, dockerfile: str, *, tag: str = "latest",
              files: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Stream the build: ``{"log": line}`` items, then ``{"image": ...}`` or ``{"error": ...}``."""
        body = {"name": name, "tag": tag, "dockerfile": dockerfile, "files": files or {}}
        with self.c.stream("POST", "/images", json=body, timeout=None) as response:
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)

    def build_wait(self, name: str, dockerfile: str, **kw: Any) -> dict[str, Any]:
        """Build and return the final item (``{"image": ...}`` or ``{"error": ...}``)."""
        last: dict[str, Any] = {}
        for item in self.build(name, dockerfile, **kw):
            last = item
        return last
