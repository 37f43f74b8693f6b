"""Deployment calls (``/deployments``)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


class Deployments:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, image: str, *, replicas: int = 1, **fields: Any) -> dict[str, Any]:
        """``fields``: command, env, env_secrets, ports, cpus, memory_mb, vpc_id, health_check, volumes,
        update, load_balancer_id (see ``POST /deployments``)."""
        body = {"name": name, "image": image, "replicas": replicas,
                **{k: v for k, v in fields.items() if v is not None}}
        return self.c.post("/deployments", body)

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/deployments")

    def get(self, dep: str) -> dict[str, Any]:
        return self.c.get(f"/deployments/{dep}")

    def metrics(self, dep: str, since: str | None = None) -> dict[str, Any]:
        """The replicas' recorded CPU/memory, summed per sampling pass (default: the last hour)."""
        return self.c.get(f"/deployments/{dep}/metrics", params={"since": since} if since else None)

    def update(self, dep: str, **fields: Any) -> dict[str, Any]:
        return self.c.put(f"/deployments/{dep}", fields)

    def scale(self, dep: str, replicas: int) -> dict[str, Any]:
        return self.c.put(f"/deployments/{dep}/replicas", {"replicas": replicas})

    def rollback(self, dep: str, revision: int | None = None) -> dict[str, Any]:
        body = {"revision": revision} if revision is not None else {}
        return self.c.post(f"/deployments/{dep}/rollback", body)

    def delete(self, dep: str, keep_volumes: bool = False) -> None:
        """``keep_volumes``: the per-replica volumes stay yours (detached) instead of being deleted."""
        self.c.delete(f"/deployments/{dep}", params={"keep_volumes": "true"} if keep_volumes else None)

    def replicas(self, dep: str) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/deployments/{dep}/replicas")

    def revisions(self, dep: str) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/deployments/{dep}/revisions")

    def events(self, dep: str, limit: int = 100) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/deployments/{dep}/events", params={"limit": limit})

    def logs(self, dep: str, tail: int = 100, replica: str | None = None, timestamps: bool = False) -> str:
        params: dict[str, Any] = {"tail": tail}
        if replica:
            params["replica"] = replica
        if timestamps:
            params["timestamps"] = "true"
        return self.c.get(f"/deployments/{dep}/logs", params=params) or ""
