"""Cron calls: jobs, pause/resume, run now, run history."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


class Cron:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, schedule: str, **fields: Any) -> dict[str, Any]:
        """Fields: target_url or target_type + target_id, timezone, method, headers, payload,
        timeout_seconds, retries, missed_runs."""
        return self.c.post("/cron", {"name": name, "schedule": schedule, **fields})

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/cron")

    def get(self, job: str) -> dict[str, Any]:
        return self.c.get(f"/cron/{job}")

    def update(self, job: str, **fields: Any) -> dict[str, Any]:
        return self.c.put(f"/cron/{job}", fields)

    def delete(self, job: str) -> None:
        self.c.delete(f"/cron/{job}")

    def pause(self, job: str) -> dict[str, Any]:
        return self.c.post(f"/cron/{job}/pause")

    def resume(self, job: str) -> dict[str, Any]:
        return self.c.post(f"/cron/{job}/resume")

    def run(self, job: str) -> dict[str, Any]:
        return self.c.post(f"/cron/{job}/run")

    def runs(self, job: str, limit: int = 50) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/cron/{job}/runs", params={"limit": limit})
