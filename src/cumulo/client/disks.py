"""Disk calls (``/disks``): create, upload, resize, convert, rename, clone, delete, and waiting for
a background operation to end."""

from __future__ import annotations

import builtins
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from cumulo.client.transport import Transport

WORKING = {"creating", "resizing", "converting", "cloning"}


class Disks:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, size_gb: int | None = None, format: str = "qcow2",
               image: str | None = None) -> dict[str, Any]:
        """An empty disk, or with ``image`` a copy of its root disk (``creating`` until copied: ``wait``)."""
        body: dict[str, Any] = {"name": name, "size_gb": size_gb, "format": format}
        if image is not None:
            body["image"] = image
        return self.c.post("/disks", body)

    def import_image(self, name: str, source: str, version_id: str | None = None) -> dict[str, Any]:
        """An image from an object of one of your buckets (``s3://BUCKET/KEY``), checked like an upload."""
        body: dict[str, Any] = {"name": name, "source": source}
        if version_id is not None:
            body["version_id"] = version_id
        return self.c.post("/disks/import", body, timeout=600)

    def upload(self, name: str, path: str | Path) -> dict[str, Any]:
        with open(path, "rb") as f:
            return self.c.request("POST", "/disks/upload", params={"name": name}, content=f,
                                  headers={"Content-Type": "application/octet-stream"}, timeout=600)

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/disks")

    def get(self, disk: str) -> dict[str, Any]:
        return self.c.get(f"/disks/{disk}")

    def info(self, disk: str) -> dict[str, Any]:
        return self.c.get(f"/disks/{disk}/info")

    def resize(self, disk: str, size_gb: int, allow_shrink: bool = False) -> dict[str, Any]:
        return self.c.post(f"/disks/{disk}/resize",
                           {"size_gb": size_gb, "allow_shrink": allow_shrink})

    def convert(self, disk: str, format: str) -> dict[str, Any]:
        return self.c.post(f"/disks/{disk}/convert", {"format": format})

    def rename(self, disk: str, name: str) -> dict[str, Any]:
        return self.c.post(f"/disks/{disk}/rename", {"name": name})

    def clone(self, disk: str, name: str) -> dict[str, Any]:
        return self.c.post(f"/disks/{disk}/clone", {"name": name})

    def delete(self, disk: str) -> None:
        self.c.delete(f"/disks/{disk}")

    def attach(self, disk: str, instance: str) -> dict[str, Any]:
        """Attached for the VM's next boot (start or reboot)."""
        return self.c.post(f"/disks/{disk}/attach", {"instance_id": instance})

    def detach(self, disk: str) -> dict[str, Any]:
        return self.c.post(f"/disks/{disk}/detach", {})

    def snapshots(self, disk: str) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/disks/{disk}/snapshots")

    def snapshot(self, disk: str, name: str) -> dict[str, Any]:
        return self.c.post(f"/disks/{disk}/snapshots", {"name": name})

    def revert(self, disk: str, snapshot: str) -> dict[str, Any]:
        return self.c.post(f"/disks/{disk}/snapshots/{snapshot}/revert", {})

    def delete_snapshot(self, disk: str, snapshot: str) -> None:
        self.c.delete(f"/disks/{disk}/snapshots/{snapshot}")

    def wait(self, disk: str, timeout: float = 600.0,
             on_progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll until the disk's operation ended (``available`` or ``error``)."""
        deadline = time.monotonic() + timeout
        while True:
            d = self.get(disk)
            if on_progress is not None:
                on_progress(d)
            if d["status"] not in WORKING or time.monotonic() > deadline:
                return d
            time.sleep(0.2)
