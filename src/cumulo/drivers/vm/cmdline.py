"""QEMU's command line for a VM, and the files of its boot under the guest's ``/run/cumulo``.

A catalogue VM's machine is ``microvm`` with the uncompressed kernel and Cumulo's initramfs
(``artifacts``) and a virtio-gpu screen; a VM of an uploaded disk image (``boot: firmware``) is ``pc``
with SeaBIOS, virtio PCI devices, a VGA card, a pvpanic device (a guest panic is a QMP event) and,
when the user put an ISO in it, a CD-ROM drive booted first. Two QMP monitors: ``qmp.sock`` for
commands, ``events.sock`` for the event watcher (``events``). The screen is the VNC display, a unix socket in the
machine folder (``vnc.sock``) relayed to the VM's owner by the API, never a TCP port on the host. Published ports are
QEMU user-mode networking ``hostfwd`` rules on the publish address (or, in a VPC, the NIC is a tap of
the port container's namespace). Secrets (the root password) reach the guest in a per-boot initramfs
segment and the cloud-init seed (``seed``: the password only as its hash), both deleted once QEMU
has them, never left in the machine folder."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from cumulo.drivers.vm.artifacts import quote

QEMU = "qemu-system-x86_64"
PASSWORD_FILE = "CUMULO_PASSWORD"  # compute's secret file with the root password (convergence.PASSWORD_ENV)
SSH_KEYS_FILE = "CUMULO_SSH_KEYS"  # root's authorized_keys (compute.vms.SSH_KEYS_FILE)
USER_DATA_FILE = "CUMULO_USER_DATA"  # the user data script, run once on the first boot (compute.vms)


def host_tsc_khz() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return int(float(line.split(":")[1]) * 1000)
    return 2_000_000


def guest_files(meta: dict[str, Any], secret_files: dict[str, str]) -> dict[str, str]:
    """The files of this boot under the guest's ``/run/cumulo`` (the secrets never touch the host's disk)."""
    files = {"command": "exec " + " ".join(quote(a) for a in meta["command"]) + "\n",
             "hostname": meta["hostname"],
             "env": "".join(f"export {k}={quote(v)}\n" for k, v in meta["env"].items())}
    secrets = dict(secret_files)
    if PASSWORD_FILE in secrets:
        files["password"] = secrets.pop(PASSWORD_FILE)
    if SSH_KEYS_FILE in secrets:
        files["authorized_keys"] = secrets.pop(SSH_KEYS_FILE) + "\n"
    if USER_DATA_FILE in secrets:
        files["user-data"] = secrets.pop(USER_DATA_FILE)
    if secrets:
        files["secrets"] = "".join(f"export {k}={quote(v)}\n" for k, v in secrets.items())
    return files


def argv(folder: Path, meta: dict[str, Any], acc: str, kernel: Path, initrd: Path,
         mac: str | None = None, seed: Path | None = None) -> list[str]:
    """QEMU's command line; with ``mac`` the NIC is the tap ``tap0`` of the namespace QEMU starts in;
    ``seed`` is the cloud-init NoCloud ISO of this boot (read-only: a CD-ROM on ``pc``, a virtio disk
    with serial ``cidata`` on microvm, which has no CD-ROM bus)."""
    firmware = meta.get("boot") == "firmware"
    bus = "pci" if firmware else "device"
    if mac is None:
        fwd = "".join(f",hostfwd=tcp:{meta['publish_host']}:{h}-:{c}" for h, c in meta["ports"])
        net = ["-netdev", f"user,id=n0{fwd}", "-device", f"virtio-net-{bus},netdev=n0"]
    else:
        net = ["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
               "-device", f"virtio-net-{bus},netdev=n0,mac={mac}"]
    disks = ["-drive", f"file={folder / 'disk.qcow2'},if=none,id=d0,format=qcow2,cache=writeback",
             "-device", f"virtio-blk-{bus},drive=d0,serial=cumulo-root" + (",bootindex=1" if firmware else "")]
    for i, d in enumerate(meta.get("disks") or [], start=1):
        disks += ["-drive", f"file={d['path']},if=none,id=d{i},format={d['format']},cache=writeback",
                  "-device", f"virtio-blk-{bus},drive=d{i},serial={d['id'][:20]}"]
    if firmware and meta.get("cdrom"):  # the user's ISO, booted first (SeaBIOS reads its El Torito record)
        disks += ["-drive", f"file={meta['cdrom']},if=none,id=cdrom,format=raw,readonly=on,media=cdrom",
                  "-device", "ide-cd,drive=cdrom,bus=ide.0,unit=0,id=cd0,bootindex=0"]
    if seed is not None:
        disks += ["-drive", f"file={seed},if=none,id=seed,format=raw,readonly=on" + (",media=cdrom" if firmware else ""),
                  "-device", "ide-cd,drive=seed,bus=ide.1,unit=0" if firmware else
                  "virtio-blk-device,drive=seed,serial=cidata"]
    serial = ["-chardev", (f"socket,id=s0,path={folder / 'serial.sock'},server=on,wait=off,"
                           f"logfile={folder / 'console.log'},logappend=on"), "-serial", "chardev:s0"]
    common = ["-smp", str(max(1, round(meta["cpus"]))), "-m", str(meta["memory_mb"]), "-nodefaults",
              "-no-user-config", "-display", "none", "-name", meta["name"], *serial,
              "-qmp", f"unix:{folder / 'qmp.sock'},server=on,wait=off",
              "-qmp", f"unix:{folder / 'events.sock'},server=on,wait=off", *net]  # events: a monitor of their own
    tail = [*disks, "-daemonize", "-pidfile", str(folder / "qemu.pid")]
    if firmware:  # an uploaded disk image: SeaBIOS boots its own boot loader; a VGA screen on the display
        return [QEMU, "-machine", f"pc,accel={acc}", "-cpu", "host" if acc == "kvm" else "max", *common,
                "-device", "VGA", "-device", "pvpanic", "-vnc", f"unix:{folder / 'vnc.sock'}", *tail]
    append = "console=ttyS0 quiet panic=-1"
    if acc == "tcg":  # no PIT/HPET reference under TCG on a loaded host: give the TSC rate
        append += f" tsc_early_khz={host_tsc_khz()} tsc=reliable no_timer_check"
    # microvm has no PCI bus for a VGA card: the screen is virtio-gpu on virtio-mmio (fbcon on tty1 in the
    # guest), which Linux drives only on modern (virtio 1.0) transports: microvm's default is legacy
    return [QEMU, "-machine", f"microvm,accel={acc}", "-cpu", "host" if acc == "kvm" else "max", *common,
            "-global", "virtio-mmio.force-legacy=false", "-no-reboot", "-kernel", str(kernel), "-initrd", str(initrd), "-append", append,
            "-device", "virtio-gpu-device", "-vnc", f"unix:{folder / 'vnc.sock'}", *tail]
