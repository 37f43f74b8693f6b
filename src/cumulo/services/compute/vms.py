"""Instances as VMs (``backend: vm``): the QEMU driver of this process, what a VM launch accepts,
and the extra statistics a VM reports. Containers and VMs share one driver (``instance_driver``:
``cumulo.drivers.vm.routed``), so convergence, the reconciler, logs, stats and the console treat both
alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import Conflict, InvalidInput
from cumulo.db.lookup import owned
from cumulo.drivers.compute.base import ComputeDriver, Stats
from cumulo.drivers.vm.qemu import DISK_IMAGE, LABEL_BACKEND, QemuDriver, VmStats
from cumulo.platform import Platform
from cumulo.services.compute.schemas import InstanceCreate
from cumulo.services.keypairs import service as keypairs

__all__ = ["LABEL_BACKEND", "admit", "extra_stats", "guest_files", "instance_driver", "vm_driver"]
MIN_MEMORY_MB = 128  # the guest kernel and its initramfs
SSH_KEYS_FILE = "CUMULO_SSH_KEYS"  # the spec's file with root's authorized_keys (QemuDriver.start)
USER_DATA_FILE = "CUMULO_USER_DATA"  # the spec's file with the user data script (QemuDriver.start)


def vm_driver(platform: Platform) -> QemuDriver:
    """``platform.drivers.vm``: this process's QEMU driver."""
    return platform.drivers.vm


def instance_driver(platform: Platform) -> ComputeDriver:
    """``platform.drivers.instances``: containers and VMs behind one contract."""
    return platform.drivers.instances


async def admit(platform: Platform, session: AsyncSession, user_id: str, body: InstanceCreate) -> dict[str, Any]:
    """400 for what a VM cannot take; the instance's meta for a VM (its accelerator, probed once, and
    the public key of ``key_name``)."""
    if body.backend != "vm":
        if body.cdrom:
            raise InvalidInput("cdrom is for VMs (backend: vm, image: 'disk:NAME')")
        if body.image.startswith(DISK_IMAGE):
            raise InvalidInput("a disk image (image: 'disk:NAME') boots as a VM: give backend: vm")
        if body.key_name:
            raise InvalidInput("key_name is for VMs (backend: vm); a container's console needs no key")
        if body.user_data:
            raise InvalidInput("user_data is for VMs (backend: vm); a container runs its command instead")
        return {}
    if body.volumes:
        raise InvalidInput("volumes are not attached to VMs: use a disk (/disks) instead")
    boot = await _uploaded_image(platform, session, user_id, body) if body.image.startswith(DISK_IMAGE) else {}
    if body.cdrom:
        if not boot:
            raise InvalidInput("a CD-ROM goes into a VM booted from a disk image (image: 'disk:NAME', machine pc); "
                               "catalogue VMs (microvm) have no CD-ROM drive")
        boot["cdrom"] = await _iso(platform, session, user_id, body.cdrom)
    memory = body.memory_mb or platform.settings.compute_default_memory_mb
    if memory < MIN_MEMORY_MB:
        raise InvalidInput(f"a VM needs memory_mb of at least {MIN_MEMORY_MB}")
    keys = {"ssh_authorized_keys": await keypairs.public_key_for(session, user_id, body.key_name)} \
        if body.key_name else {}
    driver = vm_driver(platform)
    if not await driver.ping():
        raise InvalidInput("this server cannot run VMs: QEMU is not installed (scripts/ensure-qemu.sh)")
    extra = {"user_data": body.user_data} if body.user_data else {}
    return {"backend": "vm", "accelerator": await driver.accelerator(), **keys, **extra, **boot}


async def _uploaded_image(platform: Platform, session: AsyncSession, user_id: str,
                          body: InstanceCreate) -> dict[str, Any]:
    """``image: "disk:<disk id or name>"``: a VM that boots a copy of the caller's disk (an uploaded
    qcow2 or raw image, inspected at upload) through its own boot loader. 404 for someone else's disk,
    409 while it is busy or open in a running VM, 400 for what such a VM cannot take."""
    from cumulo.services.disks import service as disks  # disks builds on compute: imported when used
    from cumulo.services.disks.models import Disk

    if body.command or body.env or body.env_secrets:
        raise InvalidInput("a VM booted from a disk image runs its own operating system: command, env and "
                           "env_secrets are for catalogue images (use user_data: cloud-init runs it)")
    d = await owned(session, Disk, user_id, body.image[len(DISK_IMAGE):], "disk")
    if d.status != "available":
        raise Conflict(f"disk '{d.name}' is {d.status}: wait until it is available")
    if d.format not in ("qcow2", "raw"):
        raise InvalidInput(f"a {d.format} disk does not boot: convert it to qcow2 or raw first")
    path = disks.path_of(platform, d)
    if vm_driver(platform).disk_in_use(path):
        raise Conflict(f"disk '{d.name}' is open in a running VM: stop that VM first (its copy would be torn)")
    return {"boot_disk": d.id, "image_ref": f"{DISK_IMAGE}{d.format}:{path}"}


ISO_MAGIC_AT = 16 * 2048 + 1  # ISO 9660's primary volume descriptor: "CD001" after its type byte


async def _iso(platform: Platform, session: AsyncSession, user_id: str, ref: str) -> dict[str, str]:
    """The caller's disk ``ref`` as a CD-ROM: an available raw ISO 9660 image (404 for someone else's)."""
    from cumulo.services.disks import service as disks  # disks builds on compute: imported when used
    from cumulo.services.disks.models import Disk

    d = await owned(session, Disk, user_id, ref, "disk")
    if d.status != "available":
        raise Conflict(f"disk '{d.name}' is {d.status}: wait until it is available")
    path = disks.path_of(platform, d)
    try:
        with open(path, "rb") as f:  # noqa: ASYNC230 - five bytes of a local file
            f.seek(ISO_MAGIC_AT)
            magic = f.read(5)
    except OSError:
        magic = b""
    if d.format != "raw" or magic != b"CD001":
        raise InvalidInput(f"disk '{d.name}' is not an ISO 9660 image (upload or import the .iso as it is)")
    return {"disk_id": d.id, "path": str(path)}


async def cdrom_for(platform: Platform, session: AsyncSession, inst: Any, ref: str | None) -> dict[str, str] | None:
    """What an update puts in a VM's CD-ROM drive: an ISO disk of its owner, or None (eject)."""
    if (inst.meta or {}).get("backend") != "vm" or not str(inst.image_ref).startswith(DISK_IMAGE):
        raise InvalidInput("only a VM booted from a disk image (machine pc) has a CD-ROM drive")
    return await _iso(platform, session, inst.user_id, ref) if ref else None


def guest_files(meta: dict[str, Any]) -> dict[str, str]:
    """The VM's files of each boot that are not the user's secrets: root's keys and the user data."""
    files = {}
    if meta.get("ssh_authorized_keys"):
        files[SSH_KEYS_FILE] = meta["ssh_authorized_keys"]
    if meta.get("user_data"):
        files[USER_DATA_FILE] = meta["user_data"]
    return files


def extra_stats(stats: Stats) -> dict[str, Any]:
    if not isinstance(stats, VmStats):
        return {}
    return {"cpu_time_seconds": stats.cpu_time_seconds, "disk_read_bytes": stats.disk_read_bytes,
            "disk_write_bytes": stats.disk_write_bytes, "disk_read_ops": stats.disk_read_ops,
            "disk_write_ops": stats.disk_write_ops}
