"""Docker adapter for function containers (no database access).

Every call runs in a thread (``asyncio.to_thread``) and turns Docker errors into ``CumuloError``s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import docker
import docker.errors

from cumulo.core.errors import CumuloError, Unavailable
from cumulo.drivers.dockerclient import LazyDocker
from cumulo.drivers.functions import AGENT_DIR

log = logging.getLogger("cumulo.functions.docker")
T = TypeVar("T")

AGENT_MOUNT = "/opt/cumulo-agent"
SOCKET_MOUNT = "/run/cumulo"
CODE_MOUNT = "/var/task"
NOBODY = "65534:65534"


@dataclass
class ContainerSpec:
    name: str
    image: str
    command: list[str]
    code_dir: str
    socket_dir: str
    env: dict[str, str]
    labels: dict[str, str]
    memory_mb: int
    cpus: float
    pids: int = 64
    tmp_mb: int = 64
    network: str | None = None  # None: no network at all
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ContainerState:
    running: bool
    exit_code: int | None
    oom_killed: bool


class FunctionDocker(LazyDocker):
    """Errors: ``cumulo.drivers.dockerclient.translate``; a missing runtime image is 503."""

    def refine(self, exc: Exception, what: str, text: str) -> CumuloError | None:
        if isinstance(exc, docker.errors.ImageNotFound):
            return Unavailable(f"runtime image is missing: {text}")
        return None

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.in_thread("", lambda: fn(*args, **kwargs))

    async def ping(self) -> bool:
        try:
            return bool(await self._call(lambda: self.client.ping()))
        except Exception:  # noqa: BLE001
            return False

    async def image(self, name: str) -> dict[str, Any] | None:
        """The image's attributes, or None when it is not present locally."""
        def inspect() -> dict[str, Any] | None:
            try:
                attrs: dict[str, Any] = self.client.images.get(name).attrs
                return attrs
            except docker.errors.ImageNotFound:
                return None

        return await self._call(inspect)

    async def probe(self, image: str, command: list[str], labels: dict[str, str]) -> str:
        """Run a throw-away container without network and return its output."""
        out = await self._call(lambda: self.client.containers.run(
            image, command, remove=True, network_mode="none", labels=labels, stderr=True))
        return bytes(out).decode(errors="replace").strip()

    async def start(self, spec: ContainerSpec) -> str:
        def run() -> str:
            container = self.client.containers.run(
                spec.image, spec.command, name=spec.name, detach=True, environment=spec.env, labels=spec.labels,
                working_dir=CODE_MOUNT, user=NOBODY, read_only=True,
                volumes={spec.code_dir: {"bind": CODE_MOUNT, "mode": "ro"},
                         str(AGENT_DIR): {"bind": AGENT_MOUNT, "mode": "ro"},
                         spec.socket_dir: {"bind": SOCKET_MOUNT, "mode": "rw"}},
                tmpfs={"/tmp": f"rw,nosuid,nodev,size={spec.tmp_mb}m,mode=1777"},
                mem_limit=f"{spec.memory_mb}m", memswap_limit=f"{spec.memory_mb}m",
                nano_cpus=int(spec.cpus * 1e9), pids_limit=spec.pids,
                network_mode="none" if spec.network is None else spec.network,
                security_opt=["no-new-privileges"], cap_drop=["ALL"], **spec.extra)
            return str(container.id)

        return await self._call(run)

    async def state(self, container_id: str) -> ContainerState | None:
        def inspect() -> ContainerState | None:
            try:
                attrs = self.client.api.inspect_container(container_id)
            except docker.errors.NotFound:
                return None
            st = attrs.get("State", {})
            return ContainerState(running=bool(st.get("Running")), exit_code=st.get("ExitCode"),
                                  oom_killed=bool(st.get("OOMKilled")))

        return await self._call(inspect)

    async def logs(self, container_id: str, tail: int = 50) -> str:
        def read() -> str:
            try:
                return bytes(self.client.api.logs(container_id, tail=tail)).decode(errors="replace")
            except docker.errors.NotFound:
                return ""

        return await self._call(read)

    async def remove(self, container_id: str) -> None:
        def rm() -> None:
            try:
                self.client.api.remove_container(container_id, force=True)
            except docker.errors.NotFound:
                pass

        try:
            await self._call(rm)
        except CumuloError:
            log.warning("could not remove function container %s", container_id[:12])

    async def list(self, labels: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
        """(id, labels) of every container (running or not) carrying all ``labels``."""
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        found = await self._call(lambda: self.client.api.containers(all=True, filters=filters))
        return [(c["Id"], c.get("Labels") or {}) for c in found]
