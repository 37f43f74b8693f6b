"""Live CPU/memory of running instances, databases and caches from Docker's streaming stats.

A one-shot stats call takes a full second (Docker waits for a second sample), so the sampler keeps
one streaming connection per running instance container, each read by its own daemon thread that
keeps only the latest sample. ``refresh`` starts streams for new containers (found by the label
``cumulo.installation``, of the kinds in ``KINDS``); a stream ends by itself when its container stops.
A sample is of the container's resource (``cumulo.resource``: the instance, database or cache) and,
for a deployment's replica, of its group (``cumulo.deployment``): a deployment's series sums its
replicas' samples of each pass, which ``take`` stamps with one moment.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, replace
from typing import Any

import docker
from docker.errors import DockerException

from cumulo.core.clock import utcnow
from cumulo.drivers import dockerclient

log = logging.getLogger("cumulo.metrics")
KINDS = ("instance", "database", "cache")  # cumulo.kind of the containers sampled
GROUP_LABEL = "cumulo.deployment"  # on a deployment's replicas: the deployment's id


@dataclass(frozen=True)
class Sample:
    instance_id: str
    user_id: str
    at: dt.datetime
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int
    pids: int
    group_id: str | None = None  # the deployment of a replica


def parse(raw: dict[str, Any]) -> tuple[float, int, int, int] | None:
    """(cpu %, memory bytes, memory limit, pids) the way ``docker stats`` shows them; None without a
    previous sample to compare with."""
    cpu, pre = raw.get("cpu_stats") or {}, raw.get("precpu_stats") or {}
    try:
        d_total = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
        d_system = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
    except (KeyError, TypeError):
        return None
    online = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage") or []) or 1
    pct = (d_total / d_system) * online * 100.0 if d_system > 0 and d_total >= 0 else 0.0
    mem = raw.get("memory_stats") or {}
    stats = mem.get("stats") or {}
    usage = int(mem.get("usage") or 0) - int(stats.get("total_inactive_file", stats.get("inactive_file", 0)) or 0)
    pids = int((raw.get("pids_stats") or {}).get("current") or 0)
    return round(pct, 3), max(usage, 0), int(mem.get("limit") or 0), pids


class Sampler:
    def __init__(self, installation_id: str, base_url: str | None = None):
        self.labels = {"cumulo.installation": installation_id}
        self._base_url = base_url
        self._client: docker.APIClient | None = None
        self._streams: dict[str, threading.Thread] = {}
        self._latest: dict[str, Sample] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def api(self) -> docker.APIClient:
        if self._client is None:
            self._client = dockerclient.client(self._base_url, 60, max_pool_size=256).api
        return self._client

    def refresh(self) -> int:
        """Start a stream for every running container of a sampled kind that has none (blocking: run
        in a thread); returns how many there are."""
        filters = {"label": [f"{k}={v}" for k, v in self.labels.items()], "status": "running"}
        containers = [c for c in self.api.containers(filters=filters)
                      if (c.get("Labels") or {}).get("cumulo.kind") in KINDS]
        for c in containers:
            labels = c.get("Labels") or {}
            instance_id, owner = labels.get("cumulo.resource"), labels.get("cumulo.owner", "")
            if not instance_id:
                continue
            with self._lock:
                if c["Id"] in self._streams and self._streams[c["Id"]].is_alive():
                    continue
                thread = threading.Thread(target=self._follow, args=(c["Id"], instance_id, owner, labels.get(GROUP_LABEL)),
                                          name=f"stats-{c['Id'][:12]}", daemon=True)
                self._streams[c["Id"]] = thread
            thread.start()
        return len(containers)

    def _follow(self, container_id: str, instance_id: str, owner: str, group_id: str | None = None) -> None:
        try:
            for raw in self.api.stats(container_id, stream=True, decode=True):
                if self._stopping.is_set():
                    return
                parsed = parse(raw)
                if parsed is None:
                    continue
                with self._lock:
                    self._latest[container_id] = Sample(instance_id, owner, utcnow(), *parsed, group_id=group_id)
        except (DockerException, OSError, ValueError) as exc:
            log.debug("stats stream of %s ended: %s", container_id[:12], exc)
        finally:
            with self._lock:
                self._streams.pop(container_id, None)

    def take(self) -> list[Sample]:
        """The latest sample of every container seen since the previous call, all stamped with this
        moment (one pass: a group's replicas add up at one time)."""
        with self._lock:
            samples, self._latest = list(self._latest.values()), {}
        now = utcnow()
        return [replace(s, at=now) for s in samples]

    @property
    def streams(self) -> int:
        with self._lock:
            return len(self._streams)

    def close(self) -> None:
        self._stopping.set()
        if self._client is not None:
            self._client.close()
