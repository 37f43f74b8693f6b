"""Docker lookups for tests that survive containers going away between the list and the inspect."""

from __future__ import annotations

from typing import Any

import docker
import docker.errors


def containers(client: docker.DockerClient | None = None, *, all: bool = False,
               **filters: str) -> list[Any]:
    """The containers matching ``filters`` (e.g. ``label="cumulo.resource=ID"``), inspected. The SDK's
    ``containers.list`` lists, then inspects each one and raises NotFound when one was removed in
    between (an instance being recreated, a replica replaced); this skips those instead."""
    client = client or docker.from_env()
    found = []
    for summary in client.containers.list(all=all, sparse=True, filters=filters):
        try:
            found.append(client.containers.get(summary.id))
        except docker.errors.NotFound:
            continue
    return found
