"""Managed database calls (``/databases``). Provisioning calls wait for the server (long timeout)."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport

LONG = 600.0  # create, restore, start, reboot and backups answer once the server is ready


class Databases:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, engine: str = "postgres", **fields: Any) -> dict[str, Any]:
        body = {"name": name, "engine": engine, **{k: v for k, v in fields.items() if v is not None}}
        return self.c.post("/databases", body, timeout=LONG)

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/databases")

    def get(self, db: str) -> dict[str, Any]:
        return self.c.get(f"/databases/{db}")

    def update(self, db: str, **fields: Any) -> dict[str, Any]:
        return self.c.put(f"/databases/{db}", fields, timeout=LONG)

    def delete(self, db: str, skip_final_backup: bool = False) -> None:
        self.c.delete(f"/databases/{db}", params={"skip_final_backup": str(skip_final_backup).lower()}, timeout=LONG)

    def stop(self, db: str) -> dict[str, Any]:
        return self.c.post(f"/databases/{db}/stop", timeout=LONG)

    def start(self, db: str) -> dict[str, Any]:
        return self.c.post(f"/databases/{db}/start", timeout=LONG)

    def reboot(self, db: str) -> dict[str, Any]:
        return self.c.post(f"/databases/{db}/reboot", timeout=LONG)

    def rotate_password(self, db: str) -> dict[str, Any]:
        return self.c.post(f"/databases/{db}/credentials/rotate", timeout=LONG)

    def backup(self, db: str) -> dict[str, Any]:
        return self.c.post(f"/databases/{db}/backups", timeout=LONG)

    def backups(self, db: str) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/databases/{db}/backups")

    def delete_backup(self, db: str, backup_id: str) -> None:
        self.c.delete(f"/databases/{db}/backups/{backup_id}")

    def restore(self, db: str, backup_id: str | None = None, name: str = "", public: bool | None = None, *,
                restore_time: str | dt.datetime | None = None, vpc_id: str | None = None) -> dict[str, Any]:
        """A NEW database from ``backup_id``, or (PostgreSQL) recovered to ``restore_time`` (an ISO 8601
        time, UTC when it has no offset, or a datetime) within the retention window: give one of them."""
        if (backup_id is None) == (restore_time is None):
            raise ValueError("give either backup_id or restore_time")
        if not name:
            raise ValueError("name (of the new database) is required")
        body: dict[str, Any] = {"name": name}
        if backup_id is not None:
            body["backup_id"] = backup_id
        if restore_time is not None:
            body["restore_time"] = restore_time.isoformat() if isinstance(restore_time, dt.datetime) else restore_time
        if public is not None:
            body["public"] = public
        if vpc_id is not None:
            body["vpc_id"] = vpc_id
        return self.c.post(f"/databases/{db}/restore", body, timeout=LONG)

    def import_dump(self, db: str, bucket: str, key: str) -> dict[str, Any]:
        return self.c.post(f"/databases/{db}/import", {"bucket": bucket, "key": key},
                           timeout=LONG)

    def logs(self, db: str, tail: int = 200) -> str:
        return self.c.get(f"/databases/{db}/logs", params={"tail": tail})

    def metrics(self, db: str) -> dict[str, Any]:
        return self.c.get(f"/databases/{db}/metrics")

    def metrics_series(self, db: str, since: str | None = None) -> dict[str, Any]:
        """The server container's recorded CPU/memory points (default: the last hour)."""
        return self.c.get(f"/databases/{db}/metrics/series", params={"since": since} if since else None)
