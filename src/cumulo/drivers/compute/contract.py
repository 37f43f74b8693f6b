"""The compute contracts, split by what a caller needs: containers, images, stats samples.

``ComputeDriver`` (``base.py``) is all three at once (the Docker driver, and the fake in
``cumulo.testing.fakes``); a caller that needs only one part should ask for that part's protocol,
so an engine that offers only some of them (a QEMU driver has no image builds) still fits:

- ``ContainerRuntime``: create / start / stop / restart / destroy / find / list by labels / logs /
  exec (``run_command``, ``console``).
- ``ImageStore``: inspect / list by labels / build / load / pull / tag / remove.
- ``StatsSource``: one CPU/memory sample of a container.

The behaviour every implementation keeps is the one ``ComputeDriver`` documents (errors are
``cumulo.core.errors``: a missing container is ``NotFound`` except where ``None`` is promised) and is
checked for every implementation by ``tests/drivers/conformance/``.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from cumulo.drivers.compute.base import Console, ContainerSpec, ContainerState, ImageInfo, LogSink, Stats


@runtime_checkable
class ContainerRuntime(Protocol):
    async def ping(self) -> bool: ...

    async def create(self, spec: ContainerSpec) -> ContainerState: ...

    async def start(self, ref: str) -> ContainerState: ...

    async def stop(self, ref: str, timeout: int = 10) -> None: ...

    async def restart(self, ref: str, timeout: int = 10) -> ContainerState: ...

    async def destroy(self, ref: str) -> None: ...

    async def find(self, ref: str) -> ContainerState | None: ...

    async def list(self, labels: dict[str, str]) -> list[ContainerState]: ...

    async def logs(self, ref: str, tail: int) -> str: ...

    async def run_command(self, ref: str, command: builtins.list[str], stdin_env: dict[str, str] | None = None) -> int: ...

    async def console(self, ref: str, command: builtins.list[str], cols: int = 80, rows: int = 24) -> Console: ...

    async def write_secrets(self, spec: ContainerSpec) -> None: ...

    async def prune_secrets(self, keep: set[str]) -> None: ...


@runtime_checkable
class ImageStore(Protocol):
    async def image(self, ref: str) -> ImageInfo | None: ...

    async def images(self, labels: dict[str, str]) -> list[ImageInfo]: ...

    async def build_image(self, context_tar: bytes, tag: str, labels: dict[str, str],
                          on_log: LogSink | None = None, memory_mb: int | None = None,
                          network: str | None = None) -> ImageInfo: ...

    async def load_image(self, archive_path: str) -> None: ...

    async def pull_image(self, ref: str) -> ImageInfo: ...

    async def tag_image(self, ref: str, tag: str) -> None: ...

    async def remove_image(self, ref: str) -> None: ...


@runtime_checkable
class StatsSource(Protocol):
    async def stats(self, ref: str) -> Stats:
        """One sample of a container. ``NotFound`` when there is no such container."""
        ...
