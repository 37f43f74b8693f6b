"""``DockerDriver``: the compute contract on Docker Engine, through the official Docker SDK.

Every SDK call runs in a worker thread (``asyncio.to_thread``) and every Docker error is turned
into a ``CumuloError`` at this boundary (``cumulo.drivers.dockerclient.translate``, with ``_refine``).
"""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import docker
import docker.errors

from cumulo.core.errors import CumuloError, InvalidInput
from cumulo.drivers import dockerclient
from cumulo.drivers.compute import secretfiles
from cumulo.drivers.compute.base import (
    SECRETS_PATH,
    ComputeDriver,
    Console,
    ContainerSpec,
    ContainerState,
    ImageInfo,
    LogSink,
    PortBinding,
    PortInUse,
    Stats,
)

T = TypeVar("T")
log = logging.getLogger("cumulo.drivers.docker")
_PORT_TAKEN = ("port is already allocated", "address already in use")


def _refine(exc: Exception, what: str, text: str) -> CumuloError | None:
    """Compute's own reading of an engine error, before ``dockerclient.translate``: a taken host port."""
    if isinstance(exc, docker.errors.APIError) and any(p in text for p in _PORT_TAKEN):
        return PortInUse(f"a host port is already in use: {text}")
    return None


_explain = dockerclient.explain


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
        ip_address=ip or None)


def _summary(row: dict[str, Any]) -> ContainerState:
    """A container from the list call (cheaper than inspect; no ports while stopped)."""
    names = row.get("Names") or ["/"]
    ports = [PortBinding(int(p.get("PublicPort") or 0), int(p["PrivatePort"]), p.get("Type", "tcp"))
             for p in row.get("Ports") or [] if ":" not in p.get("IP", "")]
    return ContainerState(id=row["Id"], name=names[0].lstrip("/"), status=row.get("State", "unknown"),
                          labels=row.get("Labels") or {}, ports=sorted(set(ports), key=lambda p: (p.container, p.host)))


def _image(attrs: dict[str, Any]) -> ImageInfo:
    config = attrs.get("Config") or attrs.get("ContainerConfig") or {}
    return ImageInfo(id=attrs["Id"], tags=list(attrs.get("RepoTags") or []), size_bytes=int(attrs.get("Size") or 0),
                     created=attrs.get("Created") if isinstance(attrs.get("Created"), str) else None,
                     labels=(config.get("Labels") or attrs.get("Labels") or {}),
                     onbuild=list(config.get("OnBuild") or []))


class DockerConsole(Console):
    def __init__(self, api: docker.APIClient, exec_id: str, sock: Any):
        self._api, self._exec_id = api, exec_id
        self._sock: socket.socket = getattr(sock, "_sock", sock)

    def read(self) -> bytes:
        try:
            return self._sock.recv(65536)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def resize(self, cols: int, rows: int) -> None:
        try:
            self._api.exec_resize(self._exec_id, height=rows, width=cols)
        except docker.errors.APIError:
            pass  # the session may be ending

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


class DockerDriver(ComputeDriver):
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
        self._base_url, self._timeout = base_url, timeout
        self._secrets_root = secrets_root  # where ContainerSpec.secret_files are kept (a tmpfs)
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = dockerclient.client(self._base_url, self._timeout)
        return self._client

    @property
    def api(self) -> docker.APIClient:
        return self.client.api

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await dockerclient.run("", lambda: fn(*args, **kwargs), _refine)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

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
                environment=env or None, hostname=spec.hostname, detach=True,
                ports=[(int(k.split("/")[0]), k.split("/")[1]) for k in bindings] or None,
                host_config=host_config, networking_config=networking)
        except Exception:
            if self._secrets_root is not None:
                secretfiles.remove(self._secrets_root, spec.name)
            raise
        try:
            return _state(api.inspect_container(created["Id"]))
        except Exception:
            api.remove_container(created["Id"], force=True)
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
        data = await self._run(self.api.logs, ref, stdout=True, stderr=True, tail=tail, timestamps=False)
        return data.decode("utf-8", errors="replace")

    async def stats(self, ref: str) -> Stats:
        s = await self._run(self.api.stats, ref, stream=False)
        cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
        total = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
        system = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
        online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
        cpu_pct = round(total / system * online * 100.0, 2) if system > 0 and total > 0 else 0.0
        mem = s.get("memory_stats") or {}
        detail = mem.get("stats") or {}
        usage = int(mem.get("usage") or 0) - int(detail.get("total_inactive_file", detail.get("inactive_file", 0)))
        nets = (s.get("networks") or {}).values()
        return Stats(cpu_percent=cpu_pct, memory_bytes=max(usage, 0), memory_limit_bytes=int(mem.get("limit") or 0),
                     pids=int((s.get("pids_stats") or {}).get("current") or 0),
                     net_rx_bytes=sum(int(n.get("rx_bytes", 0)) for n in nets),
                     net_tx_bytes=sum(int(n.get("tx_bytes", 0)) for n in nets))

    async def run_command(self, ref: str, command: list[str], stdin_env: dict[str, str] | None = None) -> int:
        def run() -> int:
            exec_id = self.api.exec_create(ref, command, environment=stdin_env or None)["Id"]
            self.api.exec_start(exec_id)
            return int(self.api.exec_inspect(exec_id).get("ExitCode") or 0)

        return await self._run(run)

    async def console(self, ref: str, command: list[str], cols: int = 80, rows: int = 24) -> Console:
        def open_console() -> Console:
            exec_id = self.api.exec_create(ref, command, stdin=True, tty=True,
                                           environment={"TERM": "xterm-256color"})["Id"]
            sock = self.api.exec_start(exec_id, tty=True, socket=True)
            console = DockerConsole(self.api, exec_id, sock)
            console.resize(cols, rows)
            return console

        return await self._run(open_console)

    # --- images -----------------------------------------------------------------------
    async def image(self, ref: str) -> ImageInfo | None:
        def get() -> ImageInfo | None:
            try:
                return _image(self.api.inspect_image(ref))
            except docker.errors.NotFound:
                return None
            except docker.errors.APIError as exc:
                if exc.status_code == 400:  # malformed reference: no such image either
                    return None
                raise

        return await self._run(get)

    async def images(self, labels: dict[str, str]) -> list[ImageInfo]:
        def list_images() -> list[ImageInfo]:
            rows = self.api.images(filters={"label": [f"{k}={v}" for k, v in labels.items()]})
            return [ImageInfo(id=r["Id"], tags=list(r.get("RepoTags") or []), size_bytes=int(r.get("Size") or 0),
                              created=None, labels=r.get("Labels") or {}) for r in rows]

        return await self._run(list_images)

    async def build_image(self, context_tar: bytes, tag: str, labels: dict[str, str],
                          on_log: LogSink | None = None, memory_mb: int | None = None,
                          network: str | None = None) -> ImageInfo:
        def build() -> ImageInfo:
            tail: list[str] = []
            limits = {"memory": memory_mb * 1024 * 1024} if memory_mb else None
            for chunk in self.api.build(fileobj=io.BytesIO(context_tar), custom_context=True, tag=tag,
                                        labels=labels, rm=True, forcerm=True, decode=True, pull=False,
                                        container_limits=limits, network_mode=network):
                text = chunk.get("stream") or chunk.get("status") or ""
                if "error" in chunk:
                    text = f"ERROR: {chunk['error']}\n"
                if text:
                    tail = (tail + text.splitlines())[-15:]
                    if on_log:
                        on_log(text)
                if "error" in chunk:
                    raise InvalidInput(f"image build failed: {chunk['error'].strip()}",
                                       details={"log_tail": tail})
            return _image(self.api.inspect_image(tag))

        return await self._run(build)

    async def load_image(self, archive_path: str) -> None:
        def load() -> None:
            with open(archive_path, "rb") as fh:
                for _ in self.api.load_image(fh):
                    pass

        await self._run(load)

    async def pull_image(self, ref: str) -> ImageInfo:
        def pull() -> ImageInfo:
            self.client.images.pull(ref)
            return _image(self.api.inspect_image(ref))

        return await self._run(pull)

    async def tag_image(self, ref: str, tag: str) -> None:
        repo, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
        await self._run(self.api.tag, ref, repo, version, force=True)

    async def remove_image(self, ref: str) -> None:
        def remove() -> None:
            try:
                self.api.remove_image(ref, force=False, noprune=False)
            except docker.errors.ImageNotFound:
                pass

        await self._run(remove)
