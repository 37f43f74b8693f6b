"""``QemuDriver``: instances as QEMU virtual machines, under the compute-driver contract.

Each VM is a folder ``<root>/<name>/`` (the name is the id): ``vm.json`` (its spec without secret
values), ``disk.qcow2`` (an overlay of the image's cached root disk, so stop/start and reboot keep
the guest's files), ``qmp.sock`` (the QMP monitor), ``serial.sock`` (the serial console, also logged
to ``console.log``) and ``qemu.pid``. QEMU runs daemonized in its own session, so a VM outlives the
Cumulo process that started it and is found again from its folder. ``stopped`` marks a stop asked for
by Cumulo; a QEMU gone without it is a crash (``error`` says which). The machine is ``microvm`` with
the uncompressed kernel and Cumulo's initramfs (``artifacts``); published ports are QEMU user-mode
networking ``hostfwd`` rules on the publish address. Secrets (the root password) reach the guest in a
per-boot initramfs segment that is deleted once QEMU has loaded it.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
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
    Stats,
)
from cumulo.drivers.vm import accel, qmp
from cumulo.drivers.vm.artifacts import Artifacts, quote
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

QEMU = "qemu-system-x86_64"
LABEL_BACKEND = "cumulo.backend"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PASSWORD_FILE = "CUMULO_PASSWORD"  # compute's secret file with the root password (convergence.PASSWORD_ENV)
SSH_KEYS_FILE = "CUMULO_SSH_KEYS"  # root's authorized_keys (compute.vms.SSH_KEYS_FILE)
USER_DATA_FILE = "CUMULO_USER_DATA"  # the user data script, run once on the first boot (compute.vms)


@dataclass(frozen=True)
class VmStats(Stats):
    cpu_time_seconds: float = 0.0
    disk_read_bytes: int = 0
    disk_write_bytes: int = 0
    disk_read_ops: int = 0
    disk_write_ops: int = 0
    accelerator: str = ""


def _host_tsc_khz() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return int(float(line.split(":")[1]) * 1000)
    return 2_000_000


class SerialConsole(Console):
    """The guest's serial console (a unix socket of QEMU); one reader at a time."""

    def __init__(self, path: Path) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(str(path))

    def read(self) -> bytes:
        try:
            return self._sock.recv(65536)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self._sock.sendall(data.replace(b"\n", b"\r"))

    def resize(self, cols: int, rows: int) -> None:
        pass  # a serial line has no window size

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


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
        """A short folder name (unix socket paths are limited to 108 bytes)."""
        return self.root / hashlib.sha256(ref.encode()).hexdigest()[:16]

    def owns(self, ref: str) -> bool:
        return bool(ref) and (self.folder(ref) / "vm.json").exists()

    def _dir(self, ref: str) -> Path:
        if not self.owns(ref):
            raise NotFound(f"no VM '{ref}'")
        return self.folder(ref)

    def _lock(self, ref: str) -> asyncio.Lock:
        return self._locks.setdefault(ref, asyncio.Lock())

    @staticmethod
    def _meta(folder: Path) -> dict[str, Any]:
        return json.loads((folder / "vm.json").read_text())  # type: ignore[no-any-return]

    @staticmethod
    def _save(folder: Path, meta: dict[str, Any]) -> None:
        tmp = folder / "vm.json.tmp"
        tmp.write_text(json.dumps(meta))
        tmp.replace(folder / "vm.json")

    @staticmethod
    def pid(folder: Path) -> int | None:
        """QEMU's pid when it runs for this folder (the pid file alone could name a reused pid)."""
        try:
            pid = int((folder / "qemu.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        if str(folder / "qmp.sock").encode() not in cmdline:
            return None
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return None
        return pid

    async def accelerator(self) -> str:
        if self._accelerator is None:
            self._accelerator = await accel.choose(
                self.wanted_accelerator, self.root.parent / "accelerator.json", QEMU, await self.artifacts.kernel(),
                await self.artifacts.initramfs(), self.probe_timeout)
        return self._accelerator

    def _state(self, folder: Path) -> ContainerState:
        meta = self._meta(folder)
        pid = self.pid(folder)
        ports = [PortBinding(h, c) for h, c in meta["ports"]]
        error, exit_code, status = None, None, "running" if pid else "created"
        if pid is None and meta.get("booted"):
            status = "exited"
            if (folder / "stopped").exists():
                exit_code = 0
            else:
                error = self._why_gone(folder)
        started = meta.get("started_at")
        placed = meta.get("placement") if pid else None
        if placed:
            ports = [PortBinding(h, c) for h, c in placed["ports"]]
        return ContainerState(
            id=meta["name"], name=meta["name"], status=status, labels=meta["labels"],
            ports=ports if pid else [PortBinding(0, c) for _, c in meta["ports"]], exit_code=exit_code,
            error=error, started_at=dt.datetime.fromisoformat(started) if started else None,
            ip_address=placed["address"] if placed else None)

    @staticmethod
    def _why_gone(folder: Path) -> str:
        if (folder / "network-lost").exists():
            return "the VM's network (its port container on the VPC's bridge) disappeared; it was powered off"
        try:
            tail = (folder / "console.log").read_bytes()[-4096:].decode(errors="replace")
        except OSError:
            tail = ""
        if "cumulo: the main command ended" in tail:
            line = next(x for x in reversed(tail.splitlines()) if "cumulo: the main command ended" in x)
            return "the guest's main command ended (" + line.split("ended", 1)[1].split(";")[0].strip() + \
                ") and the VM powered off"
        if "Kernel panic" in tail:
            return "the guest kernel panicked"
        return "the QEMU process ended without being stopped (killed or crashed)"

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
            base, default_command = await self.artifacts.root_disk(spec.image)
            self._secrets[spec.name] = dict(spec.secret_files)
            command = spec.command or default_command or ["sh"]
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
            try:
                await _qemu_img("create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base.resolve()),
                                str(folder / "disk.qcow2"))
                self._save(folder, {
                    "name": spec.name, "image": spec.image, "labels": spec.labels, "command": command,
                    "env": spec.env, "hostname": spec.hostname or spec.name[:63],
                    "ports": [[p.host, p.container] for p in spec.ports], "publish_host": spec.publish_host,
                    "network": spec.network if self.ports else None, "ipv4_address": spec.ipv4_address,
                    "aliases": spec.aliases, "disks": [],
                    "cpus": spec.cpus or 1, "memory_mb": spec.memory_mb or 512, "booted": False})
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            return self._state(folder)

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
                    if attempt == 2 or self._meta(folder).get("ipv4_address"):
                        raise
            raise AssertionError("unreachable")

    async def _boot(self, ref: str, folder: Path) -> ContainerState:
        """One boot: the VPC lease, QEMU, and beside it the port container (then the tap moves in)."""
        if self.pid(folder):
            return self._state(folder)
        meta = self._meta(folder)
        acc = await self.accelerator()
        kernel, initramfs = await self.artifacts.kernel(), await self.artifacts.initramfs()
        files = self._guest_files(ref, meta)
        for stale in ("qemu.pid", "stopped", "qmp.sock", "serial.sock", "network-lost"):
            (folder / stale).unlink(missing_ok=True)
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
            initrd = folder / "boot.initrd"
            fd = os.open(initrd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(Artifacts.with_config(initramfs.read_bytes(), files))
            argv = self.argv(folder, meta, acc, kernel, initrd, lease.mac if lease else None)
            if vpc:
                argv = ["nsenter", f"--net=/run/netns/{netns}", "--", *argv]
            try:  # in a thread, not the loop's child watcher: QEMU forks its daemon and exits
                returncode = await asyncio.to_thread(_launch, argv, folder / "qemu.err")
            finally:
                initrd.unlink(missing_ok=True)  # loaded into the guest's memory by now
            if returncode != 0:
                text = (folder / "qemu.err").read_text(errors="replace").strip()
                if "host forwarding" in text or "hostfwd" in text:
                    raise PortInUse(f"a published host port is taken: {text[-300:]}")
                raise Unavailable(f"QEMU did not start: {text[-400:]}")
            placement = await placing if placing is not None else None
            if placement is not None:
                assert lease is not None
                await asyncio.to_thread(VmPorts.plug, netns, placement, lease.mac)
                pid = self.pid(folder)
                if pid is not None:
                    await asyncio.to_thread(join_cgroups, placement.pid, pid)
        except BaseException:
            if placing is not None:
                with contextlib.suppress(BaseException):
                    await placing
            await self._power_off(folder, 0)
            if vpc and self.ports is not None:
                await asyncio.to_thread(self.ports.detach, meta["name"])
            (folder / "stopped").unlink(missing_ok=True)
            raise
        finally:
            if vpc:
                await asyncio.to_thread(drop_netns, netns)  # QEMU keeps it while it runs; the name goes
        meta.update(booted=True, started_at=dt.datetime.now(dt.UTC).isoformat(), accelerator=acc,
                    placement=placement.as_meta() if placement else None, boot_disks=meta.get("disks") or [])
        self._save(folder, meta)
        return self._state(folder)

    def _guest_files(self, ref: str, meta: dict[str, Any]) -> dict[str, str]:
        """The files of this boot under the guest's ``/run/cumulo`` (the secrets never touch the host's disk)."""
        files = {"command": "exec " + " ".join(quote(a) for a in meta["command"]) + "\n",
                 "hostname": meta["hostname"],
                 "env": "".join(f"export {k}={quote(v)}\n" for k, v in meta["env"].items())}
        secrets = dict(self._secrets.get(ref) or {})
        if PASSWORD_FILE in secrets:
            files["password"] = secrets.pop(PASSWORD_FILE)
        if SSH_KEYS_FILE in secrets:
            files["authorized_keys"] = secrets.pop(SSH_KEYS_FILE) + "\n"
        if USER_DATA_FILE in secrets:
            files["user-data"] = secrets.pop(USER_DATA_FILE)
        if secrets:
            files["secrets"] = "".join(f"export {k}={quote(v)}\n" for k, v in secrets.items())
        return files

    def argv(self, folder: Path, meta: dict[str, Any], acc: str, kernel: Path, initrd: Path,
             mac: str | None = None) -> list[str]:
        """QEMU's command line; with ``mac`` the NIC is the tap ``tap0`` of the namespace QEMU starts in."""
        append = "console=ttyS0 quiet panic=-1"
        if acc == "tcg":  # no PIT/HPET reference under TCG on a loaded host: give the TSC rate
            append += f" tsc_early_khz={_host_tsc_khz()} tsc=reliable no_timer_check"
        if mac is None:
            fwd = "".join(f",hostfwd=tcp:{meta['publish_host']}:{h}-:{c}" for h, c in meta["ports"])
            net = ["-netdev", f"user,id=n0{fwd}", "-device", "virtio-net-device,netdev=n0"]
        else:
            net = ["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
                   "-device", f"virtio-net-device,netdev=n0,mac={mac}"]
        disks = []
        for i, d in enumerate(meta.get("disks") or [], start=1):
            disks += ["-drive", f"file={d['path']},if=none,id=d{i},format={d['format']},cache=writeback",
                      "-device", f"virtio-blk-device,drive=d{i},serial={d['id'][:20]}"]
        argv = [
            QEMU, "-machine", f"microvm,accel={acc}", "-cpu", "host" if acc == "kvm" else "max",
            "-smp", str(max(1, round(meta["cpus"]))), "-m", str(meta["memory_mb"]), "-nodefaults",
            "-no-user-config", "-display", "none", "-no-reboot", "-name", meta["name"],
            "-kernel", str(kernel), "-initrd", str(initrd), "-append", append,
            "-chardev", (f"socket,id=s0,path={folder / 'serial.sock'},server=on,wait=off,"
                         f"logfile={folder / 'console.log'},logappend=on"),
            "-serial", "chardev:s0",
            "-qmp", f"unix:{folder / 'qmp.sock'},server=on,wait=off", *net,
            "-drive", f"file={folder / 'disk.qcow2'},if=none,id=d0,format=qcow2,cache=writeback",
            "-device", "virtio-blk-device,drive=d0,serial=cumulo-root", *disks,
            "-daemonize", "-pidfile", str(folder / "qemu.pid")]
        return argv

    async def stop(self, ref: str, timeout: int | None = None) -> None:
        """ACPI power-down, then ``quit`` after ``timeout`` seconds, then SIGKILL."""
        folder = self._dir(ref)
        async with self._lock(ref):
            await self._stop(folder, self.stop_timeout if timeout is None else timeout)

    async def _stop(self, folder: Path, timeout: float) -> None:
        try:
            await self._power_off(folder, timeout)
        finally:
            if self.ports is not None:  # the port container goes with the VM (its host ports are free again)
                with contextlib.suppress(CumuloError, OSError):
                    await asyncio.to_thread(self.ports.detach, self._meta(folder)["name"])

    async def _power_off(self, folder: Path, timeout: float) -> None:
        pid = self.pid(folder)
        (folder / "stopped").touch()
        if pid is None:
            return
        with contextlib.suppress(qmp.QmpError):
            await qmp.execute(folder / "qmp.sock", "system_powerdown")
        if await self._gone(folder, timeout):
            return
        with contextlib.suppress(qmp.QmpError):
            await qmp.execute(folder / "qmp.sock", "quit")
        if await self._gone(folder, 5):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await self._gone(folder, 5)

    async def _gone(self, folder: Path, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pid(folder) is not None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.1)
        return True

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
        return self._state(self.folder(ref)) if self.owns(ref) else None

    async def list(self, labels: dict[str, str]) -> list[ContainerState]:
        if not self.root.is_dir():
            return []
        found = []
        for folder in sorted(self.root.iterdir()):
            try:
                meta = self._meta(folder)
            except (OSError, ValueError):
                continue
            if all(meta["labels"].get(k) == v for k, v in labels.items()):
                await self._check_network(folder, meta)
                found.append(self._state(folder))
        return found

    async def _check_network(self, folder: Path, meta: dict[str, Any]) -> None:
        """A running VM whose port container is gone (removed, or dockerd restarted) has lost its
        network for good (the tap went with the namespace): it is powered off as a crash with that
        reason, so the instance turns ERROR and a start brings it back."""
        if self.ports is None or not meta.get("placement") or self._lock(meta["name"]).locked():
            return
        pid = self.pid(folder)
        if pid is None:
            return
        try:
            alive = await asyncio.to_thread(self.ports.pid, meta["name"])
        except Exception:  # noqa: BLE001 (Docker not answering is not a lost network)
            return
        if alive is None:
            (folder / "network-lost").touch()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await self._gone(folder, 5)

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
        pid = self.pid(folder)
        if pid is None:
            raise Conflict("the VM is not running")
        meta = self._meta(folder)
        first, t0 = _cpu_ticks(pid), time.monotonic()
        await asyncio.sleep(0.5)
        second, t1 = _cpu_ticks(pid), time.monotonic()
        cpu_percent = round(100.0 * (second - first) / CLK_TCK / (t1 - t0), 2)
        rss = 0
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
        blocks: dict[str, int] = {}
        with contextlib.suppress(qmp.QmpError):
            for dev in await qmp.execute(folder / "qmp.sock", "query-blockstats"):
                st = dev.get("stats", {})
                for key in ("rd_bytes", "wr_bytes", "rd_operations", "wr_operations"):
                    blocks[key] = blocks.get(key, 0) + int(st.get(key, 0))
        port_pid = await asyncio.to_thread(self.ports.pid, meta["name"]) if meta.get("placement") and self.ports \
            else None
        rx, tx = net_bytes(port_pid) if port_pid else (0, 0)
        return VmStats(cpu_percent=cpu_percent, memory_bytes=rss, memory_limit_bytes=meta["memory_mb"] * 2**20,
                       pids=1, net_rx_bytes=rx, net_tx_bytes=tx, cpu_time_seconds=round(second / CLK_TCK, 2),
                       disk_read_bytes=blocks.get("rd_bytes", 0), disk_write_bytes=blocks.get("wr_bytes", 0),
                       disk_read_ops=blocks.get("rd_operations", 0), disk_write_ops=blocks.get("wr_operations", 0),
                       accelerator=meta.get("accelerator", ""))

    # --- data disks: seen by the guest from its next boot on (virtio-mmio has no hot-plug) ----------
    MAX_DISKS: ClassVar[int] = 6

    async def set_disk(self, ref: str, disk_id: str, path: Path | None, fmt: str = "qcow2") -> None:
        """Attach (``path``) or detach (None) a data disk for the VM's next boot."""
        folder = self._dir(ref)
        async with self._lock(ref):
            meta = self._meta(folder)
            disks = [d for d in meta.get("disks") or [] if d["id"] != disk_id]
            if path is not None:
                if len(disks) >= self.MAX_DISKS:
                    raise Conflict(f"a VM takes at most {self.MAX_DISKS} data disks")
                disks.append({"id": disk_id, "path": str(path), "format": fmt})
            meta["disks"] = disks
            self._save(folder, meta)

    async def grow_disk(self, ref: str, disk_id: str, size_bytes: int) -> None:
        """Grow a data disk of the running VM in place (QMP ``block_resize``): the guest sees the new
        size at once (virtio-blk announces the change)."""
        folder = self._dir(ref)
        meta = self._meta(folder)
        index = next((i for i, d in enumerate(meta.get("boot_disks") or [], start=1) if d["id"] == disk_id), None)
        if index is None or self.pid(folder) is None:
            raise Conflict("the VM does not run with this disk")
        await qmp.execute(folder / "qmp.sock", "block_resize", {"device": f"d{index}", "size": size_bytes}, 60)

    def disk_in_use(self, path: Path) -> str | None:
        """The running VM that booted with the disk file ``path`` (QEMU holds it open), or None."""
        if not self.root.is_dir():
            return None
        for folder in self.root.iterdir():
            with contextlib.suppress(OSError, ValueError):
                meta = self._meta(folder)
                if any(d["path"] == str(path) for d in meta.get("boot_disks") or []) and self.pid(folder):
                    return str(meta["name"])
        return None

    async def pause(self, ref: str) -> None:
        await qmp.execute(self._dir(ref) / "qmp.sock", "stop")

    async def resume(self, ref: str) -> None:
        await qmp.execute(self._dir(ref) / "qmp.sock", "cont")

    async def status(self, ref: str) -> str:
        """QMP's view: ``running``, ``paused``, ``shutdown`` ..."""
        return str((await qmp.execute(self._dir(ref) / "qmp.sock", "query-status"))["status"])

    def accelerator_of(self, ref: str) -> str | None:
        with contextlib.suppress(OSError, ValueError):
            return self._meta(self.folder(ref)).get("accelerator")
        return None

    async def run_command(self, ref: str, command: builtins.list[str], stdin_env: dict[str, str] | None = None) -> int:
        raise InvalidInput("a VM runs no commands from the host (use its console)")

    async def console(self, ref: str, command: builtins.list[str], cols: int = 80, rows: int = 24) -> Console:
        folder = self._dir(ref)
        if self.pid(folder) is None:
            raise Conflict("the VM is not running")
        try:
            return await asyncio.to_thread(SerialConsole, folder / "serial.sock")
        except OSError as exc:
            raise Unavailable(f"the VM's serial console does not answer: {exc}") from exc

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


def _launch(argv: builtins.list[str], errors: Path) -> int:
    """Start QEMU (``-daemonize``: it returns once the guest is set up) with its errors in a file."""
    with open(errors, "wb") as err:
        try:
            return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                  start_new_session=True, timeout=120, check=False).returncode
        except subprocess.TimeoutExpired:
            err.write(b"QEMU did not finish starting within 120 s")
            return 1


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


async def _qemu_img(*args: str) -> str:
    try:
        proc = await asyncio.create_subprocess_exec("qemu-img", *args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
    except FileNotFoundError as exc:
        raise Unavailable("qemu-img is not installed (scripts/ensure-qemu.sh)") from exc
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise Unavailable(f"qemu-img {args[0]} failed: {err.decode(errors='replace').strip()[-400:]}")
    return out.decode()
