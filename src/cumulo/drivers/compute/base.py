"""The compute-driver contract: what Cumulo asks of a container (or VM) engine.

Services talk to an engine only through ``ComputeDriver``; engine ids and engine exceptions never
escape it. Every method is a coroutine and never blocks the event loop. Engine failures surface as
``CumuloError``s: ``NotFound`` (no such object), ``Conflict`` (name or port taken, object in use),
``InvalidInput`` (the engine refused the request as malformed) and ``Unavailable`` (the engine does
not answer).

``ComputeDriver`` is the three contracts of ``contract.py`` at once (``ContainerRuntime``,
``ImageStore``, ``StatsSource``); ask for one of them where only that part is needed.

Guarantees every driver keeps (``tests/drivers/conformance/`` checks them, over every driver and
the fake in ``cumulo.testing.fakes``):

- ``create`` either returns a created container or leaves nothing behind.
- ``destroy`` and ``remove_image`` succeed when the object is already gone.
- ``stop`` of a stopped container and ``start`` of a running one succeed and change nothing.
- ``find`` returns ``None`` for a missing container instead of raising; ``image`` returns ``None``
  for a missing image; the other calls on a missing container (``start``, ``stop``, ``logs``,
  ``stats``, ``run_command``, ``restart``) raise ``NotFound``; an unknown image given to ``create`` or
  ``tag_image`` is ``InvalidInput`` (the caller named it); ``run_command`` in a container that is not
  running is ``Conflict``.
- Every object a driver creates carries the labels it was given, so ``list`` by label finds it.
"""

from __future__ import annotations

import abc
import builtins
import contextlib
import datetime as dt
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from cumulo.core.errors import Conflict, Unavailable

LABEL_INSTALLATION = "cumulo.installation"
LABEL_RESOURCE = "cumulo.resource"
LABEL_OWNER = "cumulo.owner"
LABEL_KIND = "cumulo.kind"


SECRETS_PATH = "/run/secrets"  # where ``ContainerSpec.secret_files`` appear, one file per name, read-only
# Capabilities a tenant's container keeps (every other one is dropped, ``no-new-privileges`` is set):
# what the catalogue images need to start (chown their data dirs, step down to their own user, bind
# a port below 1024, signal their children). Left out from Docker's default set: NET_RAW (raw sockets:
# ARP/ICMP spoofing of neighbours), MKNOD, SETFCAP, SETPCAP, SYS_CHROOT and AUDIT_WRITE.
TENANT_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETUID", "SETGID", "NET_BIND_SERVICE", "KILL")


class PortInUse(Conflict):
    """A host port asked for is taken (by another instance or by any process on the host)."""

    code = "PORT_IN_USE"


@dataclass(frozen=True)
class PortBinding:
    """``host`` 0 asks the engine for a free host port; the live container reports the chosen one."""

    host: int
    container: int
    protocol: str = "tcp"

    def __str__(self) -> str:
        return f"{self.host}:{self.container}"


@dataclass(frozen=True)
class VolumeMount:
    source: str  # engine volume name
    target: str  # absolute path inside the container
    read_only: bool = False


@dataclass
class ContainerSpec:
    name: str
    image: str
    labels: dict[str, str]
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    ports: list[PortBinding] = field(default_factory=list)
    cpus: float | None = None
    memory_mb: int | None = None
    pids_limit: int | None = None
    network: str | None = None  # None: no network at all (never the engine's shared default bridge)
    ipv4_address: str | None = None
    aliases: list[str] = field(default_factory=list)
    mounts: list[VolumeMount] = field(default_factory=list)
    hostname: str | None = None
    publish_host: str = "0.0.0.0"
    capabilities: tuple[str, ...] = TENANT_CAPABILITIES  # kept; every other capability is dropped
    # name -> value, delivered as files under SECRETS_PATH (never in the engine's view of the
    # container), and exported into the environment of the container's main process by a small
    # shell wrapper when ``secrets_as_env`` (the image needs /bin/sh then)
    secret_files: dict[str, str] = field(default_factory=dict)
    secrets_as_env: bool = True
    cdrom: str | None = None  # a VM's: an ISO file in its CD-ROM drive, booted first (containers ignore it)
    # a tar extracted at / in the container when it is created, before it first starts (an app
    # release's files on its runtime image: no image build per release)
    files_archive: bytes | None = None
    # the main process's standard input stays open (``write_stdin``); otherwise it reads end of file
    stdin_open: bool = False


@dataclass
class ContainerState:
    id: str
    name: str
    status: str  # created | running | restarting | paused | exited | dead | removing
    labels: dict[str, str]
    ports: list[PortBinding] = field(default_factory=list)  # host ports as bound now (0 while stopped)
    exit_code: int | None = None
    error: str | None = None
    oom_killed: bool = False
    started_at: dt.datetime | None = None
    # when it last stopped, by the host's clock (inspect only: a list does not say; None while it never stopped)
    finished_at: dt.datetime | None = None
    ip_address: str | None = None
    # a VM whose guest ended it itself: "poweroff" (shut down inside the guest) or "reboot" (it asked
    # for a reset on a machine that powers off instead); None for everything else
    shutdown: str | None = None

    @property
    def running(self) -> bool:
        return self.status in ("running", "restarting")


@dataclass(frozen=True)
class Stats:
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int
    pids: int
    net_rx_bytes: int
    net_tx_bytes: int

    @property
    def memory_percent(self) -> float:
        return round(100.0 * self.memory_bytes / self.memory_limit_bytes, 2) if self.memory_limit_bytes else 0.0


@dataclass(frozen=True)
class ImageInfo:
    id: str
    tags: list[str]
    size_bytes: int
    created: str | None
    labels: dict[str, str]
    onbuild: list[str] = field(default_factory=list)  # ONBUILD triggers (run by a child's build)
    parent: str | None = None  # the image of the build's previous step (classic builder), when the engine keeps it


class Console(abc.ABC):
    """An interactive terminal inside a container. Blocking calls: run them in a thread."""

    @abc.abstractmethod
    def read(self) -> bytes:
        """Next chunk of output; ``b""`` when the session ended."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def resize(self, cols: int, rows: int) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...


class SocketConsole(Console):
    """A console over a connected stream socket (a Docker exec's, a QEMU serial line's): reads until
    the socket ends, writes as is, closes both ways."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self) -> bytes:
        try:
            return self._sock.recv(65536)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


LogSink = Callable[[str], None]


class ComputeDriver(abc.ABC):
    #: What this engine can do; callers check a flag before offering the feature.
    capabilities: ClassVar[dict[str, bool]] = {
        "supports_port_publishing": False,
        "supports_resource_limits": False,
        "supports_console": False,
        "supports_image_build": False,
        "supports_volumes": False,
        "supports_private_networks": False,
        "supports_stats": False,
    }

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the engine answers; never raises."""

    # --- containers -------------------------------------------------------------------
    @abc.abstractmethod
    async def create(self, spec: ContainerSpec) -> ContainerState:
        """Create (not start) a container. On any failure nothing is left behind.
        ``Conflict`` when the name is taken; ``InvalidInput`` when the image is unknown."""

    @abc.abstractmethod
    async def start(self, ref: str) -> ContainerState:
        """Start; a running container stays as it is. ``PortInUse`` when a host port is taken."""

    async def write_secrets(self, spec: ContainerSpec) -> None:
        """(Re)write the secret files of ``spec`` before its existing container starts again (they
        live on a tmpfs: gone after a reboot, and a secret may have a new value)."""

    async def prune_secrets(self, keep: set[str]) -> None:
        """Remove the secret files of every container of this installation not named in ``keep``
        (one removed behind our back leaves its files otherwise)."""

    @staticmethod
    def port_free(host: str, port: int) -> bool:
        """True when nothing on this host listens on (or holds) ``host:port`` (TCP): try binding it."""
        import socket

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
        return True

    async def put_files(self, ref: str, archive: bytes) -> None:
        """Extract the tar ``archive`` at / in the container ``ref`` (created or running)."""
        raise Unavailable("this engine cannot put files into a container")

    async def write_stdin(self, ref: str, data: bytes) -> None:
        """Write ``data`` to the standard input of the main process of ``ref`` (created with
        ``stdin_open``, running); it stays open afterwards."""
        raise Unavailable("this engine cannot write to a container's input")

    @abc.abstractmethod
    async def stop(self, ref: str, timeout: int = 10) -> None:
        """Stop (SIGTERM, then SIGKILL after ``timeout``); a stopped container stays as it is."""

    @abc.abstractmethod
    async def restart(self, ref: str, timeout: int = 10) -> ContainerState: ...

    @abc.abstractmethod
    async def destroy(self, ref: str) -> None:
        """Force-remove; succeeds if the container is already gone."""

    @abc.abstractmethod
    async def find(self, ref: str) -> ContainerState | None:
        """The container's current state, or ``None`` when there is no such container."""

    @abc.abstractmethod
    async def list(self, labels: dict[str, str]) -> list[ContainerState]:
        """Every container (running or not) carrying all of ``labels``."""

    @abc.abstractmethod
    async def logs(self, ref: str, tail: int) -> str:
        """The last ``tail`` lines of stdout and stderr, interleaved as written."""

    async def timed_logs(self, ref: str, tail: int) -> str:
        """``logs`` with each line prefixed by its RFC 3339 time and a space (as ``docker logs
        --timestamps``); a driver that cannot time its lines returns them as ``logs`` does."""
        return await self.logs(ref, tail)

    @abc.abstractmethod
    async def stats(self, ref: str) -> Stats:
        """One sample; CPU % is over all CPUs the way ``docker stats`` shows it."""

    @abc.abstractmethod
    async def run_command(self, ref: str, command: builtins.list[str], stdin_env: dict[str, str] | None = None) -> int:
        """Run a command to completion inside a running container; returns its exit code."""

    @abc.abstractmethod
    async def console(self, ref: str, command: builtins.list[str], cols: int = 80, rows: int = 24) -> Console:
        """An interactive terminal (TTY) running ``command`` in a running container."""

    # --- images -----------------------------------------------------------------------
    @abc.abstractmethod
    async def image(self, ref: str) -> ImageInfo | None:
        """The local image called ``ref`` (tag or id), or ``None``."""

    @abc.abstractmethod
    async def images(self, labels: dict[str, str]) -> builtins.list[ImageInfo]: ...

    @abc.abstractmethod
    async def build_image(self, context_tar: bytes, tag: str, labels: dict[str, str],
                          on_log: LogSink | None = None, memory_mb: int | None = None,
                          network: str | None = None) -> ImageInfo:
        """Build from a tar build context holding a ``Dockerfile``. ``InvalidInput`` (with the log's
        last lines) when the Dockerfile fails; a failed build leaves no tagged image. ``network``: the
        network ``RUN`` steps join (``"none"``: no network at all); ``None``: the engine's default.
        The engine builds with its classic builder, which honours ``network``."""

    @abc.abstractmethod
    async def load_image(self, archive_path: str) -> None:
        """Load an image archive in the engine's save format (tags come from the archive)."""

    @abc.abstractmethod
    async def pull_image(self, ref: str) -> ImageInfo:
        """Pull from a registry; ``Unavailable`` when no registry answers."""

    @abc.abstractmethod
    async def tag_image(self, ref: str, tag: str) -> None: ...

    @abc.abstractmethod
    async def remove_image(self, ref: str) -> None:
        """Remove; succeeds if already gone; ``Conflict`` while a container uses it."""
