"""Auto-scaling group calls (``/autoscaling/groups``)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


class AutoScaling:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, launch_template: dict[str, Any], *, max_size: int, **fields: Any) -> dict[str, Any]:
        """``fields``: min_size, desired_capacity, load_balancer_id, target_port, policies,
        cooldown_seconds, warmup_seconds, scale_in_stabilization_seconds, scale_in_protection."""
        body = {"name": name, "launch_template": launch_template, "max_size": max_size,
                **{k: v for k, v in fields.items() if v is not None}}
        return self.c.post("/autoscaling/groups", body)

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/autoscaling/groups")

    def get(self, group: str) -> dict[str, Any]:
        return self.c.get(f"/autoscaling/groups/{group}")

    def set_desired(self, group: str, desired: int) -> dict[str, Any]:
        return self.c.put(f"/autoscaling/groups/{group}", {"desired_capacity": desired})

    def update(self, group: str, **fields: Any) -> dict[str, Any]:
        return self.c.put(f"/autoscaling/groups/{group}", fields)

    def activities(self, group: str, limit: int = 100) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/autoscaling/groups/{group}/activities",
                          params={"limit": limit})

    def delete(self, group: str) -> None:
        self.c.delete(f"/autoscaling/groups/{group}")
