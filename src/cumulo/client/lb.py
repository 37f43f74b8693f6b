"""Load balancer calls (``/loadbalancers``)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


def target(instance_id: str, port: int, weight: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"instance_id": instance_id, "port": port}
    if weight is not None:
        item["weight"] = weight
    return item


class LoadBalancers:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, *, targets: list[dict[str, Any]] | None = None, port: int | None = None,
               hostname: str | None = None, algorithm: str | None = None,
               health_check: dict[str, Any] | None = None, sticky: dict[str, Any] | None = None,
               deregistration_delay_seconds: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "targets": targets or []}
        for key, value in (("port", port), ("hostname", hostname), ("algorithm", algorithm),
                           ("health_check", health_check), ("sticky", sticky),
                           ("deregistration_delay_seconds", deregistration_delay_seconds)):
            if value is not None:
                body[key] = value
        return self.c.post("/loadbalancers", body)

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/loadbalancers")

    def get(self, lb: str) -> dict[str, Any]:
        return self.c.get(f"/loadbalancers/{lb}")

    def update(self, lb: str, **fields: Any) -> dict[str, Any]:
        return self.c.request("PATCH", f"/loadbalancers/{lb}", json=fields)

    def delete(self, lb: str) -> None:
        self.c.delete(f"/loadbalancers/{lb}")

    def add_targets(self, lb: str, targets: builtins.list[dict[str, Any]]) -> dict[str, Any]:
        return self.c.post(f"/loadbalancers/{lb}/targets", {"targets": targets})

    def remove_targets(self, lb: str, targets: builtins.list[dict[str, Any]]) -> dict[str, Any]:
        """``targets``: ``[{"instance_id": ..., "port": ...}]`` (no port: every port of that instance)."""
        return self.c.request("DELETE", f"/loadbalancers/{lb}/targets",
                              json={"targets": targets})

    def metrics(self, lb: str) -> dict[str, Any]:
        return self.c.get(f"/loadbalancers/{lb}/metrics")
