"""``DockerDriver``: the compute contract on Docker Engine, through the official Docker SDK.

The ``ContainerRuntime`` part is here; the ``ImageStore`` part is ``dockerimages.DockerImages``, the
``StatsSource`` part ``dockerstats.DockerStats``, both over ``dockerengine.DockerEngine`` (one client).
Every SDK call runs in a worker thread (``asyncio.to_thread``) and every Docker error is turned
into a ``CumuloError`` at this boundary (``cumulo.drivers.dockerclient.translate``, with
``dockerengine._refine``).
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
from pathlib import Path
from typing import Any, ClassVar

import docker
import docker.errors

from cumulo.core.errors import CumuloError
from cumulo.drivers import dockerclient
from cumulo.drivers.compute import execs, secretfiles
from cumulo.drivers.compute.base import (
    SECRETS_PATH,
    ComputeDriver,
    Console,
    ContainerSpec,
    ContainerState,
    PortBinding,
    SocketConsole,
)
from cumulo.drivers.compute.dockerimages import DockerImages
from cumulo.drivers.compute.dockerstats import DockerStats

log = logging.getLogger("cumulo.drivers.docker")
_explain = dockerclient.explain


def engine_time(value: Any) -> dt.datetime | None:
    """Docker's RFC 3339 time with nanoseconds (``2026-12-02T18:30:00.123456789Z``) to the microsecond;
    None for its zero time (``0001-01-01T00:00:00Z``: never happened) or anything unreadable."""
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    head, _, frac = value.rstrip("Z").partition(".")
    zone = ""
    for sign in ("+", "-"):
        if sign in frac:
            frac, zone = frac.split(sign, 1)[0], sign + frac.split(sign, 1)[1]
    try:
        moment = dt.datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}{zone}" if frac else f"{head}{zone}")
    except ValueError:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _state(attrs: dict[str, Any]) -> ContainerState:
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    settings = attrs.get("NetworkSettings") or {}
    ports: list[PortBinding] = []
    for key, bindings in (settings.get("Ports") or {}).items():
        number, _, proto = key.partition("/")
        for b in bindings or []:
            if b.get("HostIp") in ("0.0.0.0", "127.0.0.1", "") or ":" not in b.get("HostIp", ""):
                ports.append(PortBinding(int(b.get("HostPort") or 0), int(number), proto or "tcp"))
    ip = settings.get("IPAddress") or next(
        (n.get("IPAddress") for n in (settings.get("Networks") or {}).values() if n.get("IPAddress")), None)
    return ContainerState(
        id=attrs["Id"], name=attrs.get("Name", "").lstrip("/"), status=state.get("Status", "unknown"),
        labels=config.get("Labels") or {}, ports=sorted(set(ports), key=lambda p: (p.container, p.host)),
        exit_code=state.get("ExitCode"), error=state.get("Error") or None, oom_killed=bool(state.get("OOMKilled")),
        finished_at=engine_time(state.get("FinishedAt")), ip_address=ip or None)


def _summary(row: dict[str, Any]) -> ContainerState:
    """A container from the list call (cheaper than inspect; no ports while stopped)."""
    names = row.get("Names") or ["/"]
    ports = [PortBinding(int(p.get("PublicPort") or 0), int(p["PrivatePort"]), p.get("Type", "tcp"))
             for p in row.get("Ports") or [] if ":" not in p.get("IP", "")]
    return ContainerState(id=row["Id"], name=names[0].lstrip("/"), status=row.get("State", "unknown"),
                          labels=row.get("Labels") or {}, ports=sorted(set(ports), key=lambda p: (p.container, p.host)))


class DockerConsole(SocketConsole):
    def __init__(self, api: docker.APIClient, exec_id: str, sock: Any):
        super().__init__(getattr(sock, "_sock", sock))
        self._api, self._exec_id = api, exec_id

    def resize(self, cols: int, rows: int) -> None:
        try:
            self._api.exec_resize(self._exec_id, height=rows, width=cols)
        except docker.errors.APIError:
            pass  # the session may be ending


class DockerDriver(DockerImages, DockerStats, ComputeDriver):
    """The containers part here; images (``DockerImages``) and stats (``DockerStats``) composed in,
    over one client."""

    capabilities: ClassVar[dict[str, bool]] = {
        "supports_port_publishing": True,
        "supports_resource_limits": True,
        "supports_console": True,
        "supports_image_build": True,
        "supports_volumes": True,
        "supports_private_networks": True,
        "supports_stats": True,
    }

    def __init__(self, base_url: str | None = None, timeout: int = 120, secrets_root: Path | None = None):
        super().__init__(base_url, timeout)
        self._secrets_root = secrets_root  # where ContainerSpec.secret_files are kept (a tmpfs)

    async def ping(self) -> bool:
        try:
            return bool(await self._run(lambda: self.api.ping()))
        except CumuloError:
            return False

    # --- containers -------------------------------------------------------------------
    def _secrets_local(self) -> bool:
        """Secret files need the engine on this machine (a bind mount of a local tmpfs directory)."""
        return self._secrets_root is not None and (not self._base_url or self._base_url.startswith("unix://"))

    def _entrypoint(self, spec: ContainerSpec) -> tuple[list[str] | None, list[str] | None]:
        """Entrypoint and command: with secrets exported to the environment, a shell wrapper runs
        first and then the image's own entrypoint with the command (the image's, or the spec's)."""
        if not (spec.secret_files and spec.secrets_as_env and self._secrets_local()):
            return None, spec.command
        config = self.api.inspect_image(spec.image).get("Config") or {}
        entry, cmd = list(config.get("Entrypoint") or []), spec.command or list(config.get("Cmd") or [])
        return ["/bin/sh", "-c", secretfiles.WRAPPER, "cumulo-secrets", *entry], cmd

    def _create(self, spec: ContainerSpec) -> ContainerState:
        api = self.api
        bindings: dict[str, list[tuple[str, int | None]]] = {}
        for p in spec.ports:
            bindings.setdefault(f"{p.container}/{p.protocol}", []).append((spec.publish_host, p.host or None))
        env = dict(spec.env)
        mounts = [docker.types.Mount(m.target, m.source, type="volume", read_only=m.read_only) for m in spec.mounts]
        if spec.secret_files and self._secrets_local():
            assert self._secrets_root is not None
            folder = secretfiles.write(self._secrets_root, spec.name, spec.secret_files)
            mounts.append(docker.types.Mount(SECRETS_PATH, str(folder), type="bind", read_only=True))
        elif spec.secret_files:  # a remote engine: no local tmpfs to share, the environment it is
            env.update(spec.secret_files)
        entrypoint, command = self._entrypoint(spec)
        host_config = api.create_host_config(
            port_bindings=bindings or None,
            nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
            mem_limit=f"{spec.memory_mb}m" if spec.memory_mb else None,
            memswap_limit=f"{spec.memory_mb}m" if spec.memory_mb else None,
            pids_limit=spec.pids_limit,
            mounts=mounts or None,
            network_mode=spec.network or "none",  # never Docker's default bridge, shared by every tenant
            init=True,
            cap_drop=["ALL"],
            cap_add=list(spec.capabilities) or None,
            security_opt=["no-new-privileges"],
        )
        networking = None
        if spec.network:
            endpoint = api.create_endpoint_config(ipv4_address=spec.ipv4_address, aliases=spec.aliases or None)
            networking = api.create_networking_config({spec.network: endpoint})
        try:
            created = api.create_container(
                spec.image, command=command, entrypoint=entrypoint, name=spec.name, labels=spec.labels,
                environment=env or None, hostname=spec.hostname, detach=True, stdin_open=spec.stdin_open,
                ports=[(int(k.split("/")[0]), k.split("/")[1]) for k in bindings] or None,
                host_config=host_config, networking_config=networking)
        except Exception:
            if self._secrets_root is not None:
                secretfiles.remove(self._secrets_root, spec.name)
            raise
        try:
            if spec.files_archive is not None and not api.put_archive(created["Id"], "/", spec.files_archive):
                raise CumuloError("the engine did not take the container's files")
            return _state(api.inspect_container(created["Id"]))
        except Exception:
            api.remove_container(created["Id"], force=True)
            if self._secrets_root is not None:
                secretfiles.remove(self._secrets_root, spec.name)
            raise

    async def create(self, spec: ContainerSpec) -> ContainerState:
        return await self._run(self._create, spec)

    async def prune_secrets(self, keep: set[str]) -> None:
        if self._secrets_root is not None:
            await self._run(secretfiles.prune, self._secrets_root, keep)

    async def write_secrets(self, spec: ContainerSpec) -> None:
        if spec.secret_files and self._secrets_local():
            assert self._secrets_root is not None
            await self._run(secretfiles.write, self._secrets_root, spec.name, spec.secret_files)

    async def put_files(self, ref: str, archive: bytes) -> None:
        def put() -> None:
            if not self.api.put_archive(ref, "/", archive):
                raise CumuloError("the engine did not take the container's files")

        await self._run(put)

    async def write_stdin(self, ref: str, data: bytes) -> None:
        def write() -> None:
            sock = self.api.attach_socket(ref, params={"stdin": 1, "stream": 1})
            raw = getattr(sock, "_sock", sock)  # the SDK wraps the hijacked connection in a SocketIO
            try:
                raw.sendall(data)
            finally:
                sock.close()

        await self._run(write)

    async def start(self, ref: str) -> ContainerState:
        def start() -> ContainerState:
            self.api.start(ref)
            return _state(self.api.inspect_container(ref))

        return await self._run(start)

    async def stop(self, ref: str, timeout: int = 10) -> None:
        await self._run(self.api.stop, ref, timeout=timeout)

    async def restart(self, ref: str, timeout: int = 10) -> ContainerState:
        def restart() -> ContainerState:
            self.api.restart(ref, timeout=timeout)
            return _state(self.api.inspect_container(ref))

        return await self._run(restart)

    async def destroy(self, ref: str) -> None:
        def remove() -> None:
            name = ref
            if self._secrets_root is not None and self._secrets_root.exists():
                try:
                    name = str(self.api.inspect_container(ref).get("Name", "")).lstrip("/") or ref
                except docker.errors.NotFound:
                    pass
            try:
                self.api.remove_container(ref, force=True, v=False)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if "already in progress" not in _explain(exc):
                    raise
            if self._secrets_root is not None:
                secretfiles.remove(self._secrets_root, name)

        await self._run(remove)

    async def find(self, ref: str) -> ContainerState | None:
        def find() -> ContainerState | None:
            try:
                return _state(self.api.inspect_container(ref))
            except docker.errors.NotFound:
                return None

        return await self._run(find)

    async def list(self, labels: dict[str, str]) -> list[ContainerState]:
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        rows = await self._run(self.api.containers, all=True, filters=filters)
        return [_summary(r) for r in rows]

    async def logs(self, ref: str, tail: int) -> str:
        data: bytes = await self._run(self.api.logs, ref, stdout=True, stderr=True, tail=tail, timestamps=False)
        return data.decode("utf-8", errors="replace")

    async def timed_logs(self, ref: str, tail: int) -> str:
        data: bytes = await self._run(self.api.logs, ref, stdout=True, stderr=True, tail=tail, timestamps=True)
        return data.decode("utf-8", errors="replace")

    async def run_command(self, ref: str, command: builtins.list[str], stdin_env: dict[str, str] | None = None) -> int:
        def run() -> int:
            exec_id = self.api.exec_create(ref, command, environment=stdin_env or None)["Id"]
            self.api.exec_start(exec_id)
            return int(self.api.exec_inspect(exec_id).get("ExitCode") or 0)

        return await self._run(run)

    async def exec_captured(self, ref: str, command: builtins.list[str], timeout: float,
                            limit: int) -> execs.ExecResult:
        """Run ``command`` without a TTY: its exit code and output (at most ``limit`` bytes a stream),
        killed after ``timeout`` seconds (``execs.run``)."""
        return await self._run(execs.run, self.api, ref, command, timeout, limit)

    async def console(self, ref: str, command: builtins.list[str], cols: int = 80, rows: int = 24) -> Console:
        def open_console() -> Console:
            exec_id = self.api.exec_create(ref, command, stdin=True, tty=True,
                                           environment={"TERM": "xterm-256color"})["Id"]
            sock = self.api.exec_start(exec_id, tty=True, socket=True)
            console = DockerConsole(self.api, exec_id, sock)
            console.resize(cols, rows)
            return console

        return await self._run(open_console)
