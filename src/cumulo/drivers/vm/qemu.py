"""``QemuDriver``: instances as QEMU virtual machines, under the compute-driver contract.

Each VM is a machine folder (``machine``: its spec, its QEMU process and its state are read back
from there, so a VM outlives the Cumulo process that started it and is adopted again); QEMU is
started daemonized and powered off over QMP (``process``, ``qmp``) with the command line of
``cmdline``; ``console`` and ``stats`` are its serial console and its statistics.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime as dt
import os
import shutil
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from cumulo.core.errors import Conflict, CumuloError, InvalidInput, NotFound, Unavailable
from cumulo.drivers.compute.base import (
    ComputeDriver,
    Console,
    ContainerSpec,
    ContainerState,
    ImageInfo,
    LogSink,
    PortBinding,
    PortInUse,
)
from cumulo.drivers.vm import accel, cmdline, events, images, machine, process, qmp, seed, stats
from cumulo.drivers.vm.artifacts import Artifacts
from cumulo.drivers.vm.cmdline import QEMU
from cumulo.drivers.vm.console import SerialConsole
from cumulo.drivers.vm.network import (
    AddressTaken,
    Placement,
    VmPorts,
    drop_netns,
    join_cgroups,
    make_netns,
    nameservers,
    net_bytes,
)
from cumulo.drivers.vm.stats import VmStats

__all__ = ["DISK_IMAGE", "LABEL_BACKEND", "QEMU", "QemuDriver", "VmStats"]
LABEL_BACKEND = "cumulo.backend"
DISK_IMAGE = "disk:"  # a spec image "disk:<format>:<path>": boot a copy of an uploaded disk image (firmware)
GONE_SECONDS = 30.0  # how long a VM whose monitor closed may take to end its process (a big guest's memory to free)


class QemuDriver(ComputeDriver):
    capabilities: ClassVar[dict[str, bool]] = {**ComputeDriver.capabilities, "supports_port_publishing": True,
                    "supports_resource_limits": True, "supports_console": True, "supports_stats": True}

    def __init__(self, root: Path, artifacts: Artifacts, accelerator: str = "auto", stop_timeout: float = 5.0,
                 probe_timeout: float = 10.0, ports: VmPorts | None = None) -> None:
        self.root = root
        self.ports = ports  # None: VMs get QEMU user-mode networking (no VPC), ports as hostfwd rules
        self.artifacts = artifacts
        self.wanted_accelerator = accelerator
        self.stop_timeout = stop_timeout
        self.probe_timeout = probe_timeout
        self._accelerator: str | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._secrets: dict[str, dict[str, str]] = {}  # name -> the secret files of its next boot

    # --- helpers -----------------------------------------------------------------------
    def folder(self, ref: str) -> Path:
        return machine.folder_of(self.root, ref)

    def owns(self, ref: str) -> bool:
        return bool(ref) and (self.folder(ref) / "vm.json").exists()

    def _dir(self, ref: str) -> Path:
        if not self.owns(ref):
            raise NotFound(f"no VM '{ref}'")
        return self.folder(ref)

    def _lock(self, ref: str) -> asyncio.Lock:
        return self._locks.setdefault(ref, asyncio.Lock())

    pid = staticmethod(machine.pid)

    async def accelerator(self) -> str:
        if self._accelerator is None:
            self._accelerator = await accel.choose(
                self.wanted_accelerator, self.root.parent / "accelerator.json", QEMU, await self.artifacts.kernel(),
                await self.artifacts.initramfs(), self.probe_timeout)
        return self._accelerator

    # --- the contract ------------------------------------------------------------------
    async def ping(self) -> bool:
        return shutil.which(QEMU) is not None and shutil.which("qemu-img") is not None

    async def create(self, spec: ContainerSpec) -> ContainerState:
        folder = self.folder(spec.name)
        async with self._lock(spec.name):
            if (folder / "vm.json").exists():
                raise Conflict(f"a VM named '{spec.name}' already exists")
            if shutil.which(QEMU) is None:
                raise Unavailable("QEMU is not installed on this server (scripts/ensure-qemu.sh)")
            uploaded = spec.image.startswith(DISK_IMAGE)
            root = str(folder / "disk.qcow2")
            if uploaded:  # its own boot loader and OS: no catalogue root disk, no main command
                fmt, _, source = spec.image[len(DISK_IMAGE):].partition(":")
                await images.inspect(Path(source))  # self-contained (checked at upload; again before QEMU opens it)
                command: list[str] = []  # a copy: the uploaded disk stays an image that more VMs boot from
                make = ["convert", "-q", "-f", fmt, "-O", "qcow2", source, root]
            else:
                base, default_command = await self.artifacts.root_disk(spec.image)
                command = spec.command or default_command or ["sh"]
                make = ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base.resolve()), root]
            self._secrets[spec.name] = dict(spec.secret_files)
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
            try:
                await process.qemu_img(*make)
                machine.save(folder, {"boot": "firmware" if uploaded else "kernel",
                    "name": spec.name, "image": spec.image, "labels": spec.labels, "command": command,
                    "env": spec.env, "hostname": spec.hostname or spec.name[:63],
                    "ports": [[p.host, p.container] for p in spec.ports], "publish_host": spec.publish_host,
                    "network": spec.network if self.ports else None, "ipv4_address": spec.ipv4_address,
                    "aliases": spec.aliases, "disks": [], "cdrom": spec.cdrom if uploaded else None,
                    "cpus": spec.cpus or 1, "memory_mb": spec.memory_mb or 512, "booted": False})
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            return machine.state(folder)

    async def write_secrets(self, spec: ContainerSpec) -> None:
        """Kept in memory for the next boot's initramfs segment (never in the VM's folder)."""
        self._secrets[spec.name] = dict(spec.secret_files)

    async def prune_secrets(self, keep: set[str]) -> None:
        for name in set(self._secrets) - keep:
            self._secrets.pop(name, None)

    async def start(self, ref: str) -> ContainerState:
        folder = self._dir(ref)
        async with self._lock(ref):
            for attempt in range(3):
                try:
                    return await self._boot(ref, folder)
                except AddressTaken:  # a free address of the block went to a container meanwhile
                    if attempt == 2 or machine.load(folder).get("ipv4_address"):
                        raise
            raise AssertionError("unreachable")

    async def _boot(self, ref: str, folder: Path) -> ContainerState:
        """One boot: the VPC lease, QEMU, and beside it the port container (then the tap moves in)."""
        if machine.pid(folder):
            return machine.state(folder)
        meta = machine.load(folder)
        acc = await self.accelerator()
        kernel, initramfs = await self.artifacts.kernel(), await self.artifacts.initramfs()
        files = self._guest_files(ref, meta)
        firmware = meta.get("boot") == "firmware"
        for stale in ("qemu.pid", "stopped", "qmp.sock", "serial.sock", "vnc.sock", "network-lost", events.SOCKET):
            (folder / stale).unlink(missing_ok=True)
        events.forget(folder)
        meta["boot_id"] = uuid.uuid4().hex[:12]  # what this boot's event files are stamped with
        with contextlib.suppress(OSError):  # why this boot ends is read from its own part of the log
            meta["log_offset"] = (folder / "console.log").stat().st_size
        machine.save(folder, meta)
        vpc = bool(meta.get("network")) and self.ports is not None
        netns = f"cumulo-{folder.name}"
        placing: asyncio.Task[Placement] | None = None
        lease = None
        try:
            if vpc:
                assert self.ports is not None
                lease = await asyncio.to_thread(self.ports.lease, meta["network"], meta.get("ipv4_address"),
                                                meta["name"])
                files["net"] = f"{lease.address}/{lease.prefix} {lease.gateway}\n"
                files["resolv.conf"] = "".join(f"nameserver {n}\n" for n in nameservers())
                await asyncio.to_thread(make_netns, netns)
                placing = asyncio.create_task(asyncio.to_thread(  # beside QEMU's start and the boot
                    self.ports.attach, meta["name"], meta["image"], meta["labels"], meta["network"], lease,
                    meta.get("aliases") or [], [PortBinding(h, c) for h, c in meta["ports"]],
                    meta["publish_host"]))
            initrd, seed_iso = folder / "boot.initrd", folder / "seed.iso"
            if not firmware:
                _private(initrd, Artifacts.with_config(initramfs.read_bytes(), files))
            secrets = self._secrets.get(ref) or {}
            network = seed.network_config(lease.address, lease.prefix, lease.gateway, lease.mac, nameservers()) \
                if lease else seed.network_config()
            _private(seed_iso, seed.iso(await asyncio.to_thread(
                seed.documents, meta["name"], meta["hostname"], secrets.get(cmdline.PASSWORD_FILE),
                secrets.get(cmdline.SSH_KEYS_FILE), secrets.get(cmdline.USER_DATA_FILE), network)))
            argv = self.argv(folder, meta, acc, kernel, initrd, lease.mac if lease else None, seed_iso)
            if vpc:
                argv = ["nsenter", f"--net=/run/netns/{netns}", "--", *argv]
            try:  # in a thread, not the loop's child watcher: QEMU forks its daemon and exits
                returncode = await asyncio.to_thread(process.launch, argv, folder / "qemu.err")
            finally:  # loaded into the guest's memory / held open by QEMU by now: never left on the disk
                initrd.unlink(missing_ok=True)
                seed_iso.unlink(missing_ok=True)
            if returncode != 0:
                text = (folder / "qemu.err").read_text(errors="replace").strip()
                if "host forwarding" in text or "hostfwd" in text:
                    raise PortInUse(f"a published host port is taken: {text[-300:]}")
                raise Unavailable(f"QEMU did not start: {text[-400:]}")
            placement = await placing if placing is not None else None
            if placement is not None:
                assert lease is not None
                await asyncio.to_thread(VmPorts.plug, netns, placement, lease.mac)
                pid = machine.pid(folder)
                if pid is not None:
                    await asyncio.to_thread(join_cgroups, placement.pid, pid)
        except BaseException:
            if placing is not None:
                with contextlib.suppress(BaseException):
                    await placing
            await process.power_off(folder, 0)
            if vpc and self.ports is not None:
                await asyncio.to_thread(self.ports.detach, meta["name"])
            (folder / "stopped").unlink(missing_ok=True)
            raise
        finally:
            if vpc:
                await asyncio.to_thread(drop_netns, netns)  # QEMU keeps it while it runs; the name goes
        meta.update(booted=True, started_at=dt.datetime.now(dt.UTC).isoformat(), accelerator=acc,
                    placement=placement.as_meta() if placement else None, boot_disks=meta.get("disks") or [],
                    boot_cdrom=meta.get("cdrom"))
        machine.save(folder, meta)
        return machine.state(folder)

    def _guest_files(self, ref: str, meta: dict[str, Any]) -> dict[str, str]:
        return cmdline.guest_files(meta, self._secrets.get(ref) or {})

    def argv(self, folder: Path, meta: dict[str, Any], acc: str, kernel: Path, initrd: Path,
             mac: str | None = None, seed_iso: Path | None = None) -> list[str]:
        return cmdline.argv(folder, meta, acc, kernel, initrd, mac, seed_iso)

    async def stop(self, ref: str, timeout: int | None = None) -> None:
        """ACPI power-down, then ``quit`` after ``timeout`` seconds, then SIGKILL."""
        folder = self._dir(ref)
        async with self._lock(ref):
            await self._stop(folder, self.stop_timeout if timeout is None else timeout)

    async def _stop(self, folder: Path, timeout: float) -> None:
        try:
            await process.power_off(folder, timeout)
        finally:
            if self.ports is not None:  # the port container goes with the VM (its host ports are free again)
                with contextlib.suppress(CumuloError, OSError):
                    await asyncio.to_thread(self.ports.detach, machine.load(folder)["name"])

    async def restart(self, ref: str, timeout: int | None = None) -> ContainerState:
        """A reboot is a power cycle (the machine runs with ``-no-reboot``): the disk is kept."""
        await self.stop(ref, timeout)
        return await self.start(ref)

    async def destroy(self, ref: str) -> None:
        if not self.owns(ref):
            return
        folder = self.folder(ref)
        async with self._lock(ref):
            await self._stop(folder, 0)
            shutil.rmtree(folder, ignore_errors=True)
        self._locks.pop(ref, None)
        self._secrets.pop(ref, None)

    async def find(self, ref: str) -> ContainerState | None:
        return machine.state(self.folder(ref)) if self.owns(ref) else None

    async def list(self, labels: dict[str, str]) -> list[ContainerState]:
        if not self.root.is_dir():
            return []
        found = []
        for folder in sorted(self.root.iterdir()):
            try:
                meta = machine.load(folder)
            except (OSError, ValueError):
                continue
            if all(meta["labels"].get(k) == v for k, v in labels.items()):
                await self._check_network(folder, meta)
                found.append(machine.state(folder))
        return found

    async def _check_network(self, folder: Path, meta: dict[str, Any]) -> None:
        """A running VM whose port container is gone (removed, or dockerd restarted) has lost its
        network for good (the tap went with the namespace): it is powered off as a crash with that
        reason, so the instance turns ERROR and a start brings it back."""
        if self.ports is None or not meta.get("placement") or self._lock(meta["name"]).locked():
            return
        if machine.pid(folder) is None:
            return
        try:
            alive = await asyncio.to_thread(self.ports.pid, meta["name"])
        except Exception:  # noqa: BLE001 (Docker not answering is not a lost network)
            return
        if alive is None:
            (folder / "network-lost").touch()
            await process.kill(folder)

    async def logs(self, ref: str, tail: int) -> str:
        folder = self._dir(ref)
        try:
            data = (folder / "console.log").read_bytes()[-(tail * 512 + 4096):]
        except OSError:
            return ""
        text = data.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")
        return "\n".join(text.splitlines()[-tail:]) + ("\n" if text.endswith("\n") else "")

    async def stats(self, ref: str) -> VmStats:
        folder = self._dir(ref)
        pid = machine.pid(folder)
        if pid is None:
            raise Conflict("the VM is not running")
        meta = machine.load(folder)
        port_pid = await asyncio.to_thread(self.ports.pid, meta["name"]) if meta.get("placement") and self.ports \
            else None
        return await stats.sample(folder, pid, meta["memory_mb"], net_bytes(port_pid) if port_pid else (0, 0),
                                  meta.get("accelerator", ""))

    # --- data disks: seen by the guest from its next boot on (virtio-mmio has no hot-plug) ----------
    MAX_DISKS: ClassVar[int] = 6

    async def set_disk(self, ref: str, disk_id: str, path: Path | None, fmt: str = "qcow2") -> None:
        """Attach (``path``) or detach (None) a data disk for the VM's next boot."""
        folder = self._dir(ref)
        async with self._lock(ref):
            meta = machine.load(folder)
            disks = [d for d in meta.get("disks") or [] if d["id"] != disk_id]
            if path is not None:
                if len(disks) >= self.MAX_DISKS:
                    raise Conflict(f"a VM takes at most {self.MAX_DISKS} data disks")
                disks.append({"id": disk_id, "path": str(path), "format": fmt})
            meta["disks"] = disks
            machine.save(folder, meta)

    async def grow_disk(self, ref: str, disk_id: str, size_bytes: int) -> None:
        """Grow a data disk of the running VM in place (QMP ``block_resize``): the guest sees the new
        size at once (virtio-blk announces the change)."""
        folder = self._dir(ref)
        meta = machine.load(folder)
        index = next((i for i, d in enumerate(meta.get("boot_disks") or [], start=1) if d["id"] == disk_id), None)
        if index is None or machine.pid(folder) is None:
            raise Conflict("the VM does not run with this disk")
        await qmp.execute(folder / "qmp.sock", "block_resize", {"device": f"d{index}", "size": size_bytes}, 60)

    async def set_cdrom(self, ref: str, path: str | None) -> None:
        """The ISO in the VM's CD-ROM drive from its next boot on; ``None`` ejects it, at once too when
        the VM runs (QMP ``eject``: the guest sees an empty drive)."""
        folder = self._dir(ref)
        async with self._lock(ref):
            meta = machine.load(folder)
            meta["cdrom"] = path
            machine.save(folder, meta)
            if path is None and machine.pid(folder) is not None and meta.get("boot_cdrom"):
                await qmp.execute(folder / "qmp.sock", "eject", {"id": "cd0", "force": True})
                meta["boot_cdrom"] = None
                machine.save(folder, meta)

    def disk_in_use(self, path: Path) -> str | None:
        """The running VM that booted with the disk file ``path`` (QEMU holds it open), or None."""
        if not self.root.is_dir():
            return None
        for folder in self.root.iterdir():
            with contextlib.suppress(OSError, ValueError):
                meta = machine.load(folder)
                held = [d["path"] for d in meta.get("boot_disks") or []] + [meta.get("boot_cdrom")]
                if str(path) in held and machine.pid(folder):
                    return str(meta["name"])
        return None

    async def pause(self, ref: str) -> None:
        """Pause the guest's vCPUs (QMP ``stop``): it keeps its memory and devices, and answers nothing."""
        folder = self._dir(ref)
        if machine.pid(folder) is None:
            raise Conflict("the VM is not running")
        await qmp.execute(folder / "qmp.sock", "stop")
        events.set_run_state(folder, "paused")  # the STOP event says so too (to whoever watches)

    async def resume(self, ref: str) -> None:
        folder = self._dir(ref)
        if machine.pid(folder) is None:
            raise Conflict("the VM is not running")
        await qmp.execute(folder / "qmp.sock", "cont")
        events.set_run_state(folder, "running")

    def running_vms(self, labels: dict[str, str]) -> builtins.list[tuple[str, dict[str, str]]]:
        """(name, labels) of this host's running VMs with ``labels`` (no engine calls: cheap to ask often)."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            with contextlib.suppress(OSError, ValueError, KeyError):
                meta = machine.load(folder)
                if all(meta["labels"].get(k) == v for k, v in labels.items()) and machine.pid(folder):
                    found.append((str(meta["name"]), dict(meta["labels"])))
        return found

    async def watch(self, ref: str, changed: Callable[[str, dict[str, Any]], Awaitable[None]]) -> bool:
        """Follow the running VM's QMP events (``events.watch``) until it ends: True then; False when
        it has no event monitor (booted by an older Cumulo: its state is polled) or is not running."""
        folder = self._dir(ref)
        if machine.pid(folder) is None or not (folder / events.SOCKET).exists():
            return False
        try:
            await events.watch(folder, changed)
        except (OSError, ValueError) as exc:
            if machine.pid(folder) is not None:
                raise Unavailable(f"the VM's event monitor does not answer: {exc}") from exc
        # QEMU closes its monitors a moment before its process ends: until then the VM still reads as
        # running, so the caller's look at how it ended waits for the process to go
        await process.gone(folder, GONE_SECONDS)
        return True

    async def status(self, ref: str) -> str:
        """QMP's view: ``running``, ``paused``, ``shutdown`` ..."""
        return str((await qmp.execute(self._dir(ref) / "qmp.sock", "query-status"))["status"])

    def accelerator_of(self, ref: str) -> str | None:
        with contextlib.suppress(OSError, ValueError):
            return machine.load(self.folder(ref)).get("accelerator")
        return None

    async def run_command(self, ref: str, command: builtins.list[str], stdin_env: dict[str, str] | None = None) -> int:
        raise InvalidInput("a VM runs no commands from the host (use its console)")

    async def console(self, ref: str, command: builtins.list[str], cols: int = 80, rows: int = 24) -> Console:
        folder = self._dir(ref)
        if machine.pid(folder) is None:
            raise Conflict("the VM is not running")
        try:
            return await asyncio.to_thread(SerialConsole, folder / "serial.sock")
        except OSError as exc:
            raise Unavailable(f"the VM's serial console does not answer: {exc}") from exc

    def display(self, ref: str) -> Path:
        """The unix socket of the running VM's VNC server (RFB), for a relay to its owner."""
        folder = self._dir(ref)
        if machine.pid(folder) is None:
            raise Conflict("the VM is not running")
        path = folder / "vnc.sock"
        if not path.exists():
            raise Conflict("the VM was booted without a display (by an older Cumulo): restart it")
        return path

    # --- images: VMs boot from catalogue images kept by the container engine --------------
    async def image(self, ref: str) -> ImageInfo | None:
        raise InvalidInput("VM images come from the container engine's catalogue")

    async def images(self, labels: dict[str, str]) -> builtins.list[ImageInfo]:
        return []

    async def build_image(self, context_tar: bytes, tag: str, labels: dict[str, str],
                          on_log: LogSink | None = None, memory_mb: int | None = None,
                          network: str | None = None) -> ImageInfo:
        raise InvalidInput("images are built by the container engine")

    async def load_image(self, archive_path: str) -> None:
        raise InvalidInput("images are loaded by the container engine")

    async def pull_image(self, ref: str) -> ImageInfo:
        raise InvalidInput("images are pulled by the container engine")

    async def tag_image(self, ref: str, tag: str) -> None:
        raise InvalidInput("images are tagged by the container engine")

    async def remove_image(self, ref: str) -> None:
        return None


def _private(path: Path, data: bytes) -> None:
    """A file only this user reads (a boot's secrets), replaced whole."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
