"""The Docker side of managed databases and caches: one container per resource, its data on a Cumulo
block volume, its first-boot credentials in a tmpfs file (never in the container's environment or
command, so ``docker inspect`` shows no password), ports published only when asked.

A container carries the CONTRIBUTING labels plus ``cumulo.spec``, a hash of everything it was made
from: ``ensure`` recreates it when the desired spec changed (resize, parameters), starts it when it
stopped or was killed, and makes it again when it was removed. Its data lives on the volume, so a
recreation loses nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from docker.errors import APIError, DockerException, NotFound
from docker.types import Mount

from cumulo.core.errors import CumuloError, Unavailable
from cumulo.drivers.compute import secretfiles
from cumulo.drivers.compute.docker import engine_time
from cumulo.drivers.dockerclient import LazyDocker

T = TypeVar("T")
SECRETS_AT = "/run/secrets"


class NotRunning(Unavailable):
    """The container stopped or disappeared (e.g. while waiting for its server): try again."""


@dataclass
class Spec:
    name: str  # the container's name
    image: str
    command: list[str]  # the whole argv (the image's entrypoint is replaced)
    labels: dict[str, str]
    volume: str  # Docker volume mounted at data_path
    data_path: str
    port: int  # the engine's port in the container
    network: str | None = None
    host_port: int | None = None  # published on publish_host when set
    publish_host: str = "127.0.0.1"
    cpus: float = 1.0
    memory_mb: int = 512
    env: dict[str, str] = field(default_factory=dict)  # never secrets: see ``files``
    user: str | None = None
    with_files: bool = True  # mount the tmpfs folder of first-boot files at /run/secrets

    def digest(self) -> str:
        fields = [self.image, self.command, self.volume, self.data_path, self.port, self.network, self.host_port,
                  self.publish_host, self.cpus, self.memory_mb, sorted(self.env.items()), self.user, self.with_files]
        return hashlib.sha256(json.dumps(fields, default=str).encode()).hexdigest()[:16]


class Containers(LazyDocker):
    def __init__(self, secrets_root: Path):
        super().__init__()
        self.secrets_root = secrets_root

    async def _thread(self, what: str, fn: Callable[[], T]) -> T:
        def call() -> T:
            try:
                return fn()
            except CumuloError:
                raise
            except (DockerException, OSError) as exc:
                text = str(getattr(exc, "explanation", None) or exc)
                raise Unavailable(f"{what}: {text[:300]}") from exc
        return await asyncio.to_thread(call)

    def _get(self, name: str) -> Any:  # docker's Container (the docker package has no types), or None
        try:
            return self.client.containers.get(name)
        except NotFound:
            return None

    async def state(self, name: str) -> str | None:
        """``running``, ``exited``, ``created``... or None when there is no container."""
        def look() -> str | None:
            c = self._get(name)
            return None if c is None else str(c.status)
        return await self._thread(f"inspecting {name}", look)

    async def exited(self, name: str) -> tuple[int | None, dt.datetime] | None:
        """A container that stopped (exited or dead): its exit code and when it stopped, by the host's
        clock (Docker's ``State.FinishedAt``); None while it runs, before it ever ran, or with no container."""
        def look() -> tuple[int | None, dt.datetime] | None:
            c = self._get(name)
            if c is None or c.status not in ("exited", "dead"):
                return None
            state = c.attrs.get("State") or {}
            finished = engine_time(state.get("FinishedAt"))
            return None if finished is None else (state.get("ExitCode"), finished)
        return await self._thread(f"inspecting {name}", look)

    async def write_files(self, name: str, files: dict[str, str]) -> None:
        await self._thread("writing first-boot files", lambda: secretfiles.write(self.secrets_root, name, files))

    async def ensure(self, spec: Spec) -> bool:
        """Running and made from ``spec``; True when the container was (re)created or (re)started."""
        def converge() -> bool:
            digest = spec.digest()
            c = self._get(spec.name)
            if c is not None and c.labels.get("cumulo.spec") != digest:
                c.remove(force=True)
                c = None
            if c is None:
                c = self._create(spec, digest)
            c.reload()
            if c.status != "running":
                if spec.with_files:
                    secretfiles.write(self.secrets_root, spec.name, self._files(spec.name))
                try:
                    c.start()
                except APIError as exc:  # its network was made again (a new id): make the container again
                    if "network" not in str(exc.explanation or exc).lower():
                        raise
                    c.remove(force=True)
                    self._create(spec, digest).start()
                return True
            return False
        return await self._thread(f"starting {spec.name}", converge)

    def _files(self, name: str) -> dict[str, str]:
        folder = self.secrets_root / name
        try:
            return {f: (folder / f).read_text() for f in os.listdir(folder)}
        except OSError:
            return {}

    def _create(self, spec: Spec, digest: str) -> Any:  # docker's Container
        mounts = [Mount(spec.data_path, spec.volume, type="volume")]
        if spec.with_files:
            folder = secretfiles.write(self.secrets_root, spec.name, self._files(spec.name))
            mounts.append(Mount(SECRETS_AT, str(folder), type="bind", read_only=True))
        ports = {f"{spec.port}/tcp": (spec.publish_host, spec.host_port)} if spec.host_port else None
        create = self.client.containers.create
        try:
            return create(spec.image, name=spec.name, command=spec.command[1:], entrypoint=spec.command[:1],
                          labels={**spec.labels, "cumulo.spec": digest}, environment=spec.env or None,
                          mounts=mounts, ports=ports, nano_cpus=int(spec.cpus * 1e9),
                          mem_limit=spec.memory_mb * 1024 * 1024, network=spec.network, user=spec.user, detach=True,
                          hostname=spec.name[:63],
                          log_config={"type": "json-file", "config": {"max-size": "10m", "max-file": "2"}})
        except APIError as exc:
            if exc.status_code == 409:  # a concurrent ensure made it
                return self.client.containers.get(spec.name)
            raise

    async def stop(self, name: str, timeout: int = 30) -> None:
        def halt() -> None:
            c = self._get(name)
            if c is not None and c.status in ("running", "restarting", "paused"):
                c.stop(timeout=timeout)
        await self._thread(f"stopping {name}", halt)

    async def restart(self, name: str) -> None:
        def again() -> None:
            c = self._get(name)
            if c is not None:
                c.restart(timeout=30)
        await self._thread(f"rebooting {name}", again)

    async def remove(self, name: str) -> None:
        def rm() -> None:
            c = self._get(name)
            if c is not None:
                c.remove(force=True, v=False)
            secretfiles.remove(self.secrets_root, name)
        await self._thread(f"removing {name}", rm)

    async def address(self, name: str, network: str | None) -> str | None:
        def ip() -> str | None:
            c = self._get(name)
            if c is None:
                return None
            nets = c.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
            entry = nets.get(network) if network else next(iter(nets.values()), None)
            return (entry or {}).get("IPAddress") or None
        return await self._thread(f"inspecting {name}", ip)

    async def run(self, name: str, argv: list[str], *, user: str | None = None,
                  env: dict[str, str] | None = None) -> tuple[int, str]:
        """Run ``argv`` in the container: (exit code, output). No shell unless ``argv`` asks for one."""
        def execute() -> tuple[int, str]:
            c = self._get(name)
            if c is None or c.status != "running":
                raise NotRunning(f"{name} is {'gone' if c is None else c.status}")
            code, out = c.exec_run(argv, user=user or "", environment=env)
            return int(code or 0), (out or b"").decode(errors="replace")
        return await self._thread(f"running {argv[0]} in {name}", execute)

    async def dump(self, name: str, argv: list[str], dest: Path, *, user: str | None = None) -> int:
        """Stream ``argv``'s standard output into ``dest`` (host file); its size. Unavailable when it fails."""
        def stream() -> int:
            api = self.client.api
            exec_id = api.exec_create(name, argv, user=user or "")["Id"]
            errors = bytearray()
            with open(dest, "wb") as out:
                for stdout, stderr in api.exec_start(exec_id, stream=True, demux=True):
                    if stdout:
                        out.write(stdout)
                    if stderr and len(errors) < 4096:
                        errors.extend(stderr)
            code = api.exec_inspect(exec_id).get("ExitCode")
            if code != 0:
                raise Unavailable(f"{argv[0]} failed (exit {code}): {errors.decode(errors='replace')[:300]}")
            return dest.stat().st_size
        return await self._thread(f"running {argv[0]} in {name}", stream)

    async def put_file(self, name: str, path: str, source: Path, *, uid: int = 0, gid: int = 0) -> None:
        """Copy the host file ``source`` into the container at ``path`` (mode 0600, owned by uid:gid)."""
        def put() -> None:
            folder, base = path.rsplit("/", 1)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                info = tar.gettarinfo(str(source), arcname=base)
                info.uid, info.gid, info.mode, info.uname, info.gname = uid, gid, 0o600, "", ""
                with open(source, "rb") as fh:
                    tar.addfile(info, fh)
            buf.seek(0)
            self.client.api.put_archive(name, folder or "/", buf)
        await self._thread(f"copying into {name}", put)

    async def oneshot(self, image: str, volume: str, data_path: str, staging: Path, script: str,
                      labels: dict[str, str]) -> tuple[int, str]:
        """Run ``script`` (sh, as root) once in a fresh container of ``image`` with ``volume`` at
        ``data_path`` and the host tar ``staging`` unpacked at /restore; (exit code, output). The
        container is removed afterwards."""
        def go() -> tuple[int, str]:
            c = self.client.containers.create(image, entrypoint=["/bin/sh", "-c", script], user="root",
                                              labels=labels, network_mode="none", detach=True,
                                              mounts=[Mount(data_path, volume, type="volume")])
            try:
                with open(staging, "rb") as fh:
                    self.client.api.put_archive(c.id, "/", fh)
                c.start()
                code = int(c.wait(timeout=600).get("StatusCode", 1))
                return code, c.logs().decode(errors="replace")
            finally:
                c.remove(force=True)
        return await self._thread(f"running a one-shot {image} container", go)

    async def logs(self, name: str, tail: int = 200) -> str:
        def read() -> str:
            c = self._get(name)
            return "" if c is None else c.logs(tail=tail).decode(errors="replace")
        return await self._thread(f"reading logs of {name}", read)

    async def stats(self, name: str) -> dict[str, float]:
        def read() -> dict[str, float]:
            c = self._get(name)
            if c is None or c.status != "running":
                return {}
            s = c.stats(stream=False)
            mem = s.get("memory_stats", {})
            cpu, pre = s.get("cpu_stats", {}), s.get("precpu_stats", {})
            delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get("total_usage", 0)
            system = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
            cpus = cpu.get("online_cpus") or 1
            return {"memory_bytes": float(mem.get("usage", 0)), "memory_limit_bytes": float(mem.get("limit", 0)),
                    "cpu_percent": round(delta / system * cpus * 100, 2) if system > 0 else 0.0}
        return await self._thread(f"reading stats of {name}", read)

    async def labelled(self, labels: dict[str, str]) -> list[tuple[str, str]]:
        """(name, cumulo.resource) of every container with these labels."""
        def find() -> list[tuple[str, str]]:
            filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
            return [(c.name, c.labels.get("cumulo.resource", "")) for c in
                    self.client.containers.list(all=True, filters=filters)]
        return await self._thread("listing containers", find)


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll the async ``check`` until it is truthy; Unavailable after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await check():
            return
        if loop.time() > deadline:
            raise Unavailable(f"{what}: not ready after {timeout:.0f} s")
        await asyncio.sleep(0.25)
