"""``Routed``: one compute driver over two engines: containers (Docker) and VMs (QEMU).

A spec labelled ``cumulo.backend=vm`` is created as a VM; every later call by reference goes to the
engine that holds that reference (a VM's folder exists under the VM root); ``list`` asks both.
Images, builds and everything else stay with the container engine (VMs boot from its catalogue)."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable
from typing import Any

from cumulo.drivers.compute.base import (
    ComputeDriver,
    Console,
    ContainerSpec,
    ContainerState,
    ImageInfo,
    Stats,
)
from cumulo.drivers.vm.network import LABEL_PORT
from cumulo.drivers.vm.qemu import LABEL_BACKEND, QemuDriver


class Routed(ComputeDriver):
    def __init__(self, containers: Callable[[], ComputeDriver], vms: QemuDriver) -> None:
        self._containers = containers  # looked up at each call: the platform may rebuild its driver
        self.vms = vms

    @property
    def containers(self) -> ComputeDriver:
        return self._containers()

    @property
    def capabilities(self) -> dict[str, bool]:  # type: ignore[override]
        return self.containers.capabilities

    def _for(self, ref: str) -> ComputeDriver:
        return self.vms if self.vms.owns(ref) else self.containers

    def __getattr__(self, name: str) -> Any:  # the container engine's extras (images, networks ...)
        return getattr(self.containers, name)

    async def ping(self) -> bool:
        return await self.containers.ping()

    async def create(self, spec: ContainerSpec) -> ContainerState:
        engine = self.vms if spec.labels.get(LABEL_BACKEND) == "vm" else self.containers
        return await engine.create(spec)

    async def start(self, ref: str) -> ContainerState:
        return await self._for(ref).start(ref)

    async def put_files(self, ref: str, archive: bytes) -> None:
        await self._for(ref).put_files(ref, archive)

    async def write_stdin(self, ref: str, data: bytes) -> None:
        await self._for(ref).write_stdin(ref, data)

    async def write_secrets(self, spec: ContainerSpec) -> None:
        await self._for(spec.name).write_secrets(spec)

    async def prune_secrets(self, keep: set[str]) -> None:
        await self.containers.prune_secrets(keep)
        await self.vms.prune_secrets(keep)

    async def stop(self, ref: str, timeout: int = 10) -> None:
        if self.vms.owns(ref):
            await self.vms.stop(ref)  # the VM's own power-down timeout (CUMULO_VM_STOP_TIMEOUT_SECONDS)
        else:
            await self.containers.stop(ref, timeout)

    async def restart(self, ref: str, timeout: int = 10) -> ContainerState:
        if self.vms.owns(ref):
            return await self.vms.restart(ref)
        return await self.containers.restart(ref, timeout)

    async def destroy(self, ref: str) -> None:
        await self._for(ref).destroy(ref)

    async def find(self, ref: str) -> ContainerState | None:
        return await self._for(ref).find(ref)

    async def list(self, labels: dict[str, str]) -> list[ContainerState]:
        """Instances of both engines; a VM's port container (part of the VM) is not one of them, and
        one whose VM is gone (a crash between the two removals) is removed on sight."""
        found = await self.containers.list(labels)
        for c in found:
            vm = c.labels.get(LABEL_PORT)
            if vm and not self.vms.owns(vm) and self.vms.ports is not None:
                await asyncio.to_thread(self.vms.ports.detach, vm)
        return [*(c for c in found if LABEL_PORT not in c.labels), *await self.vms.list(labels)]

    async def logs(self, ref: str, tail: int) -> str:
        return await self._for(ref).logs(ref, tail)

    async def stats(self, ref: str) -> Stats:
        return await self._for(ref).stats(ref)

    async def run_command(self, ref: str, command: builtins.list[str], stdin_env: dict[str, str] | None = None) -> int:
        return await self._for(ref).run_command(ref, command, stdin_env)

    async def console(self, ref: str, command: builtins.list[str], cols: int = 80, rows: int = 24) -> Console:
        return await self._for(ref).console(ref, command, cols, rows)

    async def image(self, ref: str) -> ImageInfo | None:
        return await self.containers.image(ref)

    async def images(self, labels: dict[str, str]) -> builtins.list[ImageInfo]:
        return await self.containers.images(labels)

    async def build_image(self, *args: Any, **kwargs: Any) -> ImageInfo:
        return await self.containers.build_image(*args, **kwargs)

    async def load_image(self, archive_path: str) -> None:
        await self.containers.load_image(archive_path)

    async def pull_image(self, ref: str) -> ImageInfo:
        return await self.containers.pull_image(ref)

    async def tag_image(self, ref: str, tag: str) -> None:
        await self.containers.tag_image(ref, tag)

    async def remove_image(self, ref: str) -> None:
        await self.containers.remove_image(ref)

