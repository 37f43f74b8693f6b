"""Block volume and snapshot calls, and instance metrics."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


class Volumes:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, size_gb: int) -> dict[str, Any]:
        return self.c.post("/volumes", {"name": name, "size_gb": size_gb})

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/volumes")

    def get(self, volume: str) -> dict[str, Any]:
        return self.c.get(f"/volumes/{volume}")

    def delete(self, volume: str) -> None:
        self.c.delete(f"/volumes/{volume}")

    def attach(self, volume: str, instance: str, mount_path: str) -> dict[str, Any]:
        return self.c.post(f"/volumes/{volume}/attach",
                           {"instance_id": instance, "mount_path": mount_path})

    def detach(self, volume: str) -> dict[str, Any]:
        return self.c.post(f"/volumes/{volume}/detach")

    def snapshot(self, volume: str, description: str = "") -> dict[str, Any]:
        return self.c.post(f"/volumes/{volume}/snapshots", {"description": description})

    def snapshots(self, volume: str | None = None) -> builtins.list[dict[str, Any]]:
        return self.c.get("/snapshots", params={"volume_id": volume} if volume else None)

    def delete_snapshot(self, snapshot: str) -> None:
        self.c.delete(f"/snapshots/{snapshot}")

    def get_snapshot(self, snapshot: str) -> dict[str, Any]:
        return self.c.get(f"/snapshots/{snapshot}")

    def restore(self, snapshot: str, name: str) -> dict[str, Any]:
        return self.c.post(f"/snapshots/{snapshot}/restore", {"name": name})

    def metrics(self, instance: str, since: str | None = None) -> dict[str, Any]:
        return self.c.get(f"/instances/{instance}/metrics",
                          params={"since": since} if since else None)
