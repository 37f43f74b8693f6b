"""Whether an instance still runs, from its row and its container as the engine reports it: the
one reading services that keep instances running for a user (deployments, auto-scaling groups) share."""

from __future__ import annotations

from typing import Any

from cumulo.drivers.compute.base import ContainerState


def down_reason(instance: Any, container: ContainerState | None) -> str | None:
    """Why the instance no longer runs (a sentence for an event or an activity), or None when it runs."""
    if instance is None:
        return "its instance was deleted"
    if instance.status == "ERROR":
        return instance.status_reason or "its instance failed"
    if container is None:
        return "its container was removed"
    if not container.running:
        return f"its container stopped ({container.status})"
    return None
