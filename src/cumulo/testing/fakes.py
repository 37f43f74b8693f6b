"""In-memory fakes of the compute contracts (``cumulo.drivers.compute.contract``), for fast unit tests.

``FakeCompute`` is a whole ``ComputeDriver`` (``FakeContainers`` + ``FakeImages`` + ``FakeStats`` over
one shared state); each part alone satisfies its protocol (``FakeStats(containers.state)`` makes parts
that see one engine). They behave like the Docker driver where
services can see it, and ``tests/drivers/conformance/`` runs the same suite over both:

- containers are created ``created``, run ``running``, stop ``exited``; ``list`` filters by every
  label given; a missing container is ``NotFound`` (``find``: ``None``; ``destroy``: no error); a taken
  name is ``Conflict``; an unknown image is ``InvalidInput``; a host port held by another running
  container is ``PortInUse``; ``run_command`` in a stopped container is ``Conflict``.
- images are known by tag (``name`` means ``name:latest``) or id; ``image`` of a missing one is
  ``None``; ``tag_image`` moves a tag; ``remove_image`` of an image a container uses is ``Conflict``;
  a build needs a ``Dockerfile`` whose ``FROM`` image is present (``RUN false`` / ``RUN exit N`` fail
  the build as ``InvalidInput``); no registry answers a pull (``Unavailable``).

What a fake cannot do it lets the test decide: ``commands`` maps a program name to its exit code
(``true`` 0, ``false`` 1, ``sh -c "exit N"`` N, anything else 0), ``write_log`` appends output,
``set_stats`` fixes a sample.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import io
import itertools
import json
import shlex
import tarfile
from dataclasses import dataclass, field, replace

from cumulo.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from cumulo.drivers.compute.base import (
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

_ids = itertools.count(1)


def _digest(text: str) -> str:
    return hashlib.sha256(f"{text}:{next(_ids)}".encode()).hexdigest()


def normal_tag(ref: str) -> str:
    """``name`` -> ``name:latest`` (a tag in the last path part is kept), as the engine reads it."""
    return ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"


@dataclass
class _Container:
    spec: ContainerSpec
    state: ContainerState
    log: list[str] = field(default_factory=list)
    stats: Stats | None = None
    files: list[bytes] = field(default_factory=list)  # archives put in after its creation
    stdin: bytes = b""  # what was written to its main process's input


@dataclass
class _Image:
    info: ImageInfo


class _State:
    """What the three parts share (one engine's view)."""

    def __init__(self) -> None:
        self.containers: dict[str, _Container] = {}
        self.images: dict[str, _Image] = {}
        self.next_port = 40000

    def container(self, ref: str) -> _Container:
        for c in self.containers.values():
            if ref in (c.state.id, c.state.name) or (len(ref) >= 12 and c.state.id.startswith(ref)):
                return c
        raise NotFound(f"No such container: {ref}")

    def image(self, ref: str) -> _Image | None:
        tag = normal_tag(ref)
        for img in self.images.values():
            if tag in img.info.tags or ref == img.info.id or (ref.startswith("sha256:") and img.info.id.startswith(ref)):
                return img
        return None

    def add_image(self, tags: list[str], labels: dict[str, str], onbuild: list[str] | None = None) -> ImageInfo:
        image_id = f"sha256:{_digest(','.join(tags))}"
        for tag in tags:
            self.untag(tag)
        info = ImageInfo(id=image_id, tags=[normal_tag(t) for t in tags], size_bytes=1_000_000,
                         created=dt.datetime.now(dt.UTC).isoformat(), labels=dict(labels), onbuild=list(onbuild or []))
        self.images[image_id] = _Image(info)
        return info

    def untag(self, tag: str) -> None:
        tag = normal_tag(tag)
        for img in self.images.values():
            if tag in img.info.tags:
                img.info.tags.remove(tag)


class _Part:
    def __init__(self, state: _State | None = None) -> None:
        self.state = state or _State()  # parts made with one state see one engine


class FakeConsole(Console):
    """Echoes what is written (a ``cat`` in a terminal)."""

    def __init__(self) -> None:
        self._buffer: list[bytes] = []
        self.size = (80, 24)
        self.closed = False

    def read(self) -> bytes:
        return b"" if self.closed or not self._buffer else self._buffer.pop(0)

    def write(self, data: bytes) -> None:
        self._buffer.append(data)

    def resize(self, cols: int, rows: int) -> None:
        self.size = (cols, rows)

    def close(self) -> None:
        self.closed = True


class FakeContainers(_Part):
    """``ContainerRuntime`` in memory."""

    commands: dict[str, int]

    def __init__(self, state: _State | None = None, commands: dict[str, int] | None = None) -> None:
        super().__init__(state)
        self.commands = {"true": 0, "false": 1, **(commands or {})}

    async def ping(self) -> bool:
        return True

    async def create(self, spec: ContainerSpec) -> ContainerState:
        if any(c.state.name == spec.name for c in self.state.containers.values()):
            raise Conflict(f'Conflict. The container name "/{spec.name}" is already in use')
        if self.state.image(spec.image) is None:
            raise InvalidInput(f"unknown image: No such image: {spec.image}")
        state = ContainerState(id=_digest(spec.name), name=spec.name, status="created", labels=dict(spec.labels),
                               ports=[PortBinding(0, p.container, p.protocol) for p in spec.ports])
        self.state.containers[state.id] = _Container(spec, state)
        return replace(state)

    async def start(self, ref: str) -> ContainerState:
        c = self.state.container(ref)
        if not c.state.running:
            taken = {(p.host, p.protocol) for o in self.state.containers.values() if o is not c and o.state.running
                     for p in o.state.ports}
            ports = []
            for p in c.spec.ports:
                if (p.host, p.protocol) in taken:
                    raise PortInUse(f"a host port is already in use: {p.host}")
                host = p.host or self._free_port()
                ports.append(PortBinding(host, p.container, p.protocol))
            c.state.ports, c.state.status, c.state.exit_code = ports, "running", 0
            c.state.started_at = dt.datetime.now(dt.UTC)
            c.state.ip_address = "10.0.0.2" if c.spec.network else None
        return replace(c.state)

    async def put_files(self, ref: str, archive: bytes) -> None:
        self.state.container(ref).files.append(archive)

    async def write_stdin(self, ref: str, data: bytes) -> None:
        c = self.state.container(ref)
        if not c.state.running or not c.spec.stdin_open:
            raise Conflict(f"container {c.state.id} is not running with its input open")
        c.stdin += data

    def _free_port(self) -> int:
        self.state.next_port += 1
        return self.state.next_port

    async def stop(self, ref: str, timeout: int = 10) -> None:
        c = self.state.container(ref)
        if c.state.running:
            c.state.status, c.state.exit_code, c.state.ip_address = "exited", 143, None
            c.state.ports = [PortBinding(0, p.container, p.protocol) for p in c.spec.ports]

    async def restart(self, ref: str, timeout: int = 10) -> ContainerState:
        await self.stop(ref, timeout)
        return await self.start(ref)

    async def destroy(self, ref: str) -> None:
        try:
            c = self.state.container(ref)
        except NotFound:
            return
        del self.state.containers[c.state.id]

    async def find(self, ref: str) -> ContainerState | None:
        try:
            return replace(self.state.container(ref).state)
        except NotFound:
            return None

    async def list(self, labels: dict[str, str]) -> list[ContainerState]:
        return [replace(c.state) for c in self.state.containers.values()
                if all(c.state.labels.get(k) == v for k, v in labels.items())]

    async def logs(self, ref: str, tail: int) -> str:
        lines = self.state.container(ref).log
        return "".join(f"{line}\n" for line in (lines[-tail:] if tail > 0 else []))

    def write_log(self, ref: str, text: str) -> None:
        """What the container's main process writes (the fake runs nothing itself)."""
        self.state.container(ref).log.extend(text.splitlines())

    async def run_command(self, ref: str, command: builtins.list[str], stdin_env: dict[str, str] | None = None) -> int:
        c = self.state.container(ref)
        if not c.state.running:
            raise Conflict(f"container {c.state.id} is not running")
        if command[:2] == ["sh", "-c"] and len(command) == 3:
            words = shlex.split(command[2])
            if len(words) == 2 and words[0] == "exit" and words[1].isdigit():
                return int(words[1]) % 256
            command = words
        return self.commands.get(command[0], 0) if command else 0

    async def console(self, ref: str, command: builtins.list[str], cols: int = 80, rows: int = 24) -> Console:
        c = self.state.container(ref)
        if not c.state.running:
            raise Conflict(f"container {c.state.id} is not running")
        console = FakeConsole()
        console.resize(cols, rows)
        return console

    async def write_secrets(self, spec: ContainerSpec) -> None:
        return None

    async def prune_secrets(self, keep: set[str]) -> None:
        return None


class FakeImages(_Part):
    """``ImageStore`` in memory; ``base`` images are present from the start."""

    def __init__(self, state: _State | None = None, base: tuple[str, ...] = ("cumulo/busybox",)) -> None:
        super().__init__(state)
        for tag in base:
            if self.state.image(tag) is None:
                self.state.add_image([tag], {})

    async def image(self, ref: str) -> ImageInfo | None:
        img = self.state.image(ref)
        return replace(img.info, tags=list(img.info.tags)) if img else None

    async def images(self, labels: dict[str, str]) -> list[ImageInfo]:
        return [replace(i.info, tags=list(i.info.tags)) for i in self.state.images.values()
                if all(i.info.labels.get(k) == v for k, v in labels.items())]

    async def build_image(self, context_tar: bytes, tag: str, labels: dict[str, str],
                          on_log: LogSink | None = None, memory_mb: int | None = None,
                          network: str | None = None) -> ImageInfo:
        steps = _dockerfile(context_tar)
        base: _Image | None = None
        onbuild: list[str] = []
        for number, (word, rest) in enumerate(steps, 1):
            if on_log:
                on_log(f"Step {number}/{len(steps)} : {word} {rest}\n")
            if word == "FROM":
                base = self.state.image(rest.split()[0])
                if base is None:
                    raise InvalidInput(f"image build failed: pull access denied for {rest}",
                                       details={"log_tail": [f"FROM {rest}"]})
            elif word == "ONBUILD":
                onbuild.append(rest)
            elif word == "RUN" and _fails(rest):
                raise InvalidInput(f"image build failed: The command '/bin/sh -c {rest}' returned a non-zero code",
                                   details={"log_tail": [f"RUN {rest}"]})
        if base is None:
            raise InvalidInput("image build failed: no FROM instruction", details={"log_tail": []})
        info = self.state.add_image([tag], {**base.info.labels, **labels}, onbuild)
        return replace(info, tags=list(info.tags))

    async def load_image(self, archive_path: str) -> None:
        try:
            with tarfile.open(archive_path) as tar:
                member = tar.extractfile("manifest.json")
                manifest = json.loads(member.read()) if member else []
        except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
            raise Unavailable(f"cannot load image archive: {exc}") from exc
        for entry in manifest:
            self.state.add_image(list(entry.get("RepoTags") or []), {})

    async def pull_image(self, ref: str) -> ImageInfo:
        raise Unavailable(f"no registry answers for {ref}")

    async def tag_image(self, ref: str, tag: str) -> None:
        img = self.state.image(ref)
        if img is None:
            raise InvalidInput(f"unknown image: No such image: {ref}")
        self.state.untag(tag)
        img.info.tags.append(normal_tag(tag))

    async def remove_image(self, ref: str) -> None:
        img = self.state.image(ref)
        if img is None:
            return
        users = [c for c in self.state.containers.values() if self.state.image(c.spec.image) is img]
        if users:
            raise Conflict(f"unable to remove {ref}: image is being used by container {users[0].state.id[:12]}")
        tag = normal_tag(ref)
        if tag in img.info.tags and len(img.info.tags) > 1:  # removing one of several tags only untags
            img.info.tags.remove(tag)
            return
        del self.state.images[img.info.id]


class FakeStats(_Part):
    """``StatsSource`` in memory: a running container uses 8 MiB of its limit (1 GiB without one)."""

    async def stats(self, ref: str) -> Stats:
        c = self.state.container(ref)
        if c.stats is not None:
            return c.stats
        if not c.state.running:
            return Stats(cpu_percent=0.0, memory_bytes=0, memory_limit_bytes=0, pids=0, net_rx_bytes=0, net_tx_bytes=0)
        limit = (c.spec.memory_mb or 1024) * 1024 * 1024
        return Stats(cpu_percent=0.5, memory_bytes=8 * 1024 * 1024, memory_limit_bytes=limit, pids=1,
                     net_rx_bytes=0, net_tx_bytes=0)

    def set_stats(self, ref: str, sample: Stats | None) -> None:
        """Every later sample of ``ref`` is ``sample`` (``None``: back to the default)."""
        self.state.container(ref).stats = sample


class FakeCompute(FakeContainers, FakeImages, FakeStats, ComputeDriver):
    """A whole ``ComputeDriver`` in memory (the three parts over one state)."""

    def __init__(self, base: tuple[str, ...] = ("cumulo/busybox",), commands: dict[str, int] | None = None) -> None:
        state = _State()
        FakeContainers.__init__(self, state, commands)
        FakeImages.__init__(self, state, base)


def _dockerfile(context_tar: bytes) -> list[tuple[str, str]]:
    try:
        with tarfile.open(fileobj=io.BytesIO(context_tar)) as tar:
            member = tar.extractfile("Dockerfile")
            text = member.read().decode() if member else ""
    except (KeyError, tarfile.TarError) as exc:
        raise InvalidInput("image build failed: Cannot locate specified Dockerfile: Dockerfile",
                           details={"log_tail": []}) from exc
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            steps.append((word.upper(), rest.strip()))
    return steps


def _fails(command: str) -> bool:
    words = command.split()
    return words == ["false"] or (len(words) == 2 and words[0] == "exit" and words[1] != "0")
