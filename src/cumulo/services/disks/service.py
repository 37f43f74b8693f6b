"""Disk use cases. Create and rename answer at once; resize, convert and clone answer 202 with the
disk in a working status (``resizing``, ``converting``, ``cloning``) and run as background tasks
that report ``progress_percent`` and end ``available`` (or ``error`` with the reason). A disk that
is working refuses other operations and deletion (409). Uploads are inspected with ``qemu-img info``
and refused (400) when they are not self-contained (a backing file or an external data file would
let QEMU read a host file)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import utcnow
from cumulo.core.errors import Conflict, CumuloError, InvalidInput, NotFound
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.drivers.vm import images
from cumulo.platform import Platform
from cumulo.services.compute import service as compute
from cumulo.services.compute.convergence import container_name
from cumulo.services.compute.vms import vm_driver
from cumulo.services.disks.models import Disk
from cumulo.services.disks.schemas import (
    NAME,
    DiskAttach,
    DiskClone,
    DiskConvert,
    DiskCreate,
    DiskImport,
    DiskOut,
    DiskRename,
    DiskResize,
    SnapshotCreate,
    SnapshotOut,
)
from cumulo.services.events import service as events
from cumulo.services.quotas import service as quotas

GIB = 2**30
WORKING = ("creating", "resizing", "converting", "cloning")
STALE_AFTER = dt.timedelta(minutes=10)  # a working disk not touched for this long lost its task
MAX_SNAPSHOTS = 16  # internal snapshots per disk (disks themselves are under the disks quota)
ATTACHABLE = ("qcow2", "raw")
_progress_writes: set[asyncio.Task[None]] = set()  # held until done: the loop keeps only weak references
log = logging.getLogger("cumulo.disks")


def disk_out(d: Disk) -> DiskOut:
    return DiskOut(id=d.id, name=d.name, format=d.format, size_gb=d.size_gb, size_bytes=d.size_bytes, status=d.status,
                   operation=d.operation, progress_percent=d.progress_percent, error=d.error, warning=d.warning,
                   instance_id=d.instance_id, created_at=d.created_at, updated_at=d.updated_at)


def path_of(platform: Platform, d: Disk, fmt: str | None = None) -> Path:
    return platform.settings.data_dir.resolve() / "disks" / d.user_id / f"{d.id}.{fmt or d.format}"


async def get(session: AsyncSession, user: Principal, ref: str) -> Disk:
    return await owned(session, Disk, user.user_id, ref, "disk")


async def list_disks(session: AsyncSession, user: Principal) -> list[Disk]:
    return list((await session.scalars(select(Disk).where(Disk.user_id == user.user_id)
                                       .order_by(Disk.created_at, Disk.id))).all())


def _check_size(platform: Platform, size_gb: int) -> None:
    cap = platform.settings.disk_max_size_gb
    if size_gb > cap:
        raise InvalidInput(f"size_gb {size_gb} is larger than the largest disk this server makes ({cap} GiB, "
                           "CUMULO_DISK_MAX_SIZE_GB)")


async def _name_free(session: AsyncSession, user_id: str, name: str) -> None:
    if await session.scalar(select(Disk.id).where(Disk.user_id == user_id, Disk.name == name)):
        raise Conflict(f"you already have a disk named '{name}'")


def _record(session: AsyncSession, d: Disk, action: str, **data: Any) -> None:
    events.record(session, user_id=d.user_id, action=action, resource_type="disk", resource_id=d.id, name=d.name,
                  **data)


async def create(platform: Platform, session: AsyncSession, user: Principal, body: DiskCreate) -> Disk:
    if body.image is not None:
        return await _from_image(platform, session, user, body, body.image)
    if body.size_gb is None:
        raise InvalidInput("size_gb: an empty disk needs a size (or give image: a copy of its root disk)")
    _check_size(platform, body.size_gb)
    await quotas.check_many(session, platform, user.user_id, {"disks": 1, "disk_gib": body.size_gb})
    await _name_free(session, user.user_id, body.name)
    d = Disk(id=new_id(), user_id=user.user_id, name=body.name, format=body.format, size_gb=body.size_gb,
             size_bytes=body.size_gb * GIB, status="available", operation="create", progress_percent=100.0)
    path = path_of(platform, d)
    path.parent.mkdir(parents=True, exist_ok=True)
    await images.create(path, d.format, d.size_bytes)
    try:
        session.add(d)
        await flush_or_conflict(session, f"you already have a disk named '{body.name}'")
        _record(session, d, "disk.created", size_gb=d.size_gb, format=d.format)
        await session.commit()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return d


async def _from_image(platform: Platform, session: AsyncSession, user: Principal, body: DiskCreate,
                      image: str) -> Disk:
    """A disk that starts as a copy of ``image``'s root disk (what a VM of that image boots from),
    grown to ``size_gb``: answered at once (``creating``), copied in the background with progress."""
    from cumulo.services.images import service as images_service  # a disk builds on images: asked when used

    ref = await images_service.image_ref_for(platform, session, user, image)  # 404: not one the caller may use
    artifacts = vm_driver(platform).artifacts
    need = -(-await artifacts.root_disk_size(ref) // GIB)
    size_gb = body.size_gb or need
    if size_gb < need:
        raise InvalidInput(f"size_gb {size_gb} is smaller than the image '{image}' ({need} GiB): give at least {need}")
    _check_size(platform, size_gb)
    await quotas.check_many(session, platform, user.user_id, {"disks": 1, "disk_gib": size_gb})
    await _name_free(session, user.user_id, body.name)
    d = Disk(id=new_id(), user_id=user.user_id, name=body.name, format=body.format, size_gb=size_gb,
             size_bytes=size_gb * GIB, status="creating", operation="create", progress_percent=0.0)
    session.add(d)
    await flush_or_conflict(session, f"you already have a disk named '{body.name}'")

    async def work(progress: Callable[[float], None]) -> None:
        base, _command = await artifacts.root_disk(ref)  # built once per image (docker export, mkfs.ext4)
        progress(10.0)
        found = await images.info(base, "qcow2")
        if int(found["virtual-size"]) > size_gb * GIB:
            raise InvalidInput(f"the image '{image}' needs {-(-int(found['virtual-size']) // GIB)} GiB, more than "
                               f"size_gb {size_gb}")
        dst = path_of(platform, d)
        dst.parent.mkdir(parents=True, exist_ok=True)
        part = dst.with_suffix(".part")
        try:  # a whole copy (no backing file): the disk is the user's own from here on
            await images.convert(base, "qcow2", part, d.format, lambda p: progress(10.0 + p * 0.85))
            await images.resize(part, d.format, size_gb * GIB, False)
            part.replace(dst)
        finally:
            part.unlink(missing_ok=True)

    return await _begin(platform, session, d, "creating", "create", work, None, image=image, size_gb=size_gb,
                        format=d.format)


S3_SOURCE = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.{1,1024})$")


async def import_object(platform: Platform, session: AsyncSession, user: Principal, body: DiskImport) -> Disk:
    """An image kept as an object in one of the caller's buckets, copied into a disk, inspected and
    refused exactly like an upload. Another user's bucket is not found (and never read)."""
    from cumulo.services.storage import buckets, objects  # a disk builds on storage: asked when used
    from cumulo.services.storage.versions import blob_store

    found = S3_SOURCE.match(body.source)
    if not found:
        raise InvalidInput("source must be s3://BUCKET/KEY (an object in one of your buckets)")
    bucket = await buckets.owned_bucket(session, user.user_id, found.group(1))  # someone else's: 404
    row = await objects.read_version(platform, bucket, found.group(2), body.version_id)  # 404 NoSuchKey
    if row.size > platform.settings.disk_max_size_gb * GIB:
        raise InvalidInput(f"the object is larger than {platform.settings.disk_max_size_gb} GiB")
    if not row.blob_id or not row.size:
        raise InvalidInput("the object is empty")
    store, blob = blob_store(platform), row.blob_id

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in await store.read(blob):
            yield chunk

    return await upload(platform, session, user, body.name, chunks(), action="disk.imported", source=body.source,
                        version_id=getattr(row, "version_id", None))


async def upload(platform: Platform, session: AsyncSession, user: Principal, name: str,
                 chunks: AsyncIterator[bytes], action: str = "disk.uploaded", **data: object) -> Disk:
    """An image sent as the request body: stored, inspected, then recorded (nothing is kept when refused)."""
    if not re.fullmatch(NAME, name):
        raise InvalidInput("name must be 1-64 characters: letters, digits, '-', '_' or '.', starting with a "
                           "letter or digit")
    await quotas.check(session, platform, user.user_id, "disks", lock=False)  # early, before the bytes
    await _name_free(session, user.user_id, name)
    d = Disk(id=new_id(), user_id=user.user_id, name=name, format="raw", size_gb=0, size_bytes=0,
             status="available", operation="upload", progress_percent=100.0)
    tmp = path_of(platform, d, "upload")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    limit, written = platform.settings.disk_max_size_gb * GIB, 0
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                written += len(chunk)
                if written > limit:
                    raise InvalidInput(f"the image is larger than {platform.settings.disk_max_size_gb} GiB")
                out.write(chunk)
        if not written:
            raise InvalidInput("the request body (the image) is empty")
        found = await images.inspect(tmp)
        d.format, d.size_bytes = found["format"], int(found["virtual-size"])
        d.size_gb = max(1, -(-d.size_bytes // GIB))
        _check_size(platform, d.size_gb)
        await quotas.check_many(session, platform, user.user_id, {"disks": 1, "disk_gib": d.size_gb})
        tmp.replace(path_of(platform, d))
        try:
            session.add(d)
            await flush_or_conflict(session, f"you already have a disk named '{name}'")
            _record(session, d, action, size_gb=d.size_gb, format=d.format, **data)
            await session.commit()
        except BaseException:
            path_of(platform, d).unlink(missing_ok=True)
            raise
    finally:
        tmp.unlink(missing_ok=True)
    return d


def _idle(d: Disk) -> None:
    if d.status in WORKING:
        raise Conflict(f"disk '{d.name}' is {d.status} ({d.progress_percent:.0f}%): wait until it is available")


async def rename(session: AsyncSession, user: Principal, ref: str, body: DiskRename) -> Disk:
    d = await get(session, user, ref)
    if body.name == d.name:
        return d
    await _name_free(session, user.user_id, body.name)
    old, d.name, d.updated_at = d.name, body.name, utcnow()
    await flush_or_conflict(session, f"you already have a disk named '{body.name}'")
    _record(session, d, "disk.renamed", old_name=old)
    await session.commit()
    return d


async def resize(platform: Platform, session: AsyncSession, user: Principal, ref: str, body: DiskResize) -> Disk:
    d = await get(session, user, ref)
    _idle(d)
    _check_size(platform, body.size_gb)
    if body.size_gb == d.size_gb:
        return d
    shrink = body.size_gb < d.size_gb
    vm = vm_driver(platform).disk_in_use(path_of(platform, d))
    if vm is not None:
        if shrink:
            raise Conflict(f"disk '{d.name}' is in use by a running VM: stop the VM to shrink it")
        return await _grow_live(platform, session, user, d, vm, body.size_gb)
    if shrink and not body.allow_shrink:
        raise InvalidInput(f"size_gb {body.size_gb} is smaller than the disk ({d.size_gb} GiB): data past the new "
                           "end is lost; send allow_shrink: true to shrink it anyway")
    if not shrink:
        await quotas.check(session, platform, user.user_id, "disk_gib", body.size_gb - d.size_gb)
    old = d.size_gb
    d.size_gb, d.size_bytes = body.size_gb, body.size_gb * GIB  # counted against the quota at once
    d.warning = (f"shrunk from {old} to {body.size_gb} GiB: anything stored past {body.size_gb} GiB is gone"
                 if shrink else None)

    async def work(progress: Callable[[float], None]) -> None:
        await images.resize(path_of(platform, d), d.format, body.size_gb * GIB, shrink)

    async def undo(s: AsyncSession, row: Disk) -> None:
        row.size_gb, row.size_bytes, row.warning = old, old * GIB, None

    return await _begin(platform, session, d, "resizing", "resize", work, undo, old_size_gb=old,
                        size_gb=body.size_gb)


async def _grow_live(platform: Platform, session: AsyncSession, user: Principal, d: Disk, vm: str,
                     size_gb: int) -> Disk:
    """Grow a disk a running VM has open, through the VM (QEMU holds the file): seen by the guest at once."""
    await quotas.check(session, platform, user.user_id, "disk_gib", size_gb - d.size_gb)
    await vm_driver(platform).grow_disk(vm, d.id, size_gb * GIB)
    old = d.size_gb
    d.size_gb, d.size_bytes, d.operation, d.warning, d.updated_at = size_gb, size_gb * GIB, "resize", None, utcnow()
    _record(session, d, "disk.resize_done", old_size_gb=old, size_gb=size_gb, live=True)
    await session.commit()
    return d


async def convert(platform: Platform, session: AsyncSession, user: Principal, ref: str, body: DiskConvert) -> Disk:
    d = await get(session, user, ref)
    _idle(d)
    _free(platform, d)  # the file changes: never under a VM
    if body.format == d.format:
        raise InvalidInput(f"disk '{d.name}' is already {d.format}")
    src_fmt, src = d.format, path_of(platform, d)

    async def work(progress: Callable[[float], None]) -> None:
        dst = path_of(platform, d, body.format)
        part = dst.with_suffix(".part")
        try:
            await images.convert(src, src_fmt, part, body.format, progress)
            if not await images.identical(src, src_fmt, part, body.format):
                raise InvalidInput("the converted image differs from the original (qemu-img compare)")
            part.replace(dst)
        finally:
            part.unlink(missing_ok=True)
        async with platform.db.session() as s:
            await s.execute(update(Disk).where(Disk.id == d.id).values(format=body.format))
            await s.commit()
        src.unlink(missing_ok=True)

    return await _begin(platform, session, d, "converting", "convert", work, None, source_format=src_fmt,
                        format=body.format)


async def clone(platform: Platform, session: AsyncSession, user: Principal, ref: str, body: DiskClone) -> Disk:
    src = await get(session, user, ref)
    _idle(src)
    _not_running(platform, src)  # a copy of a disk a running guest writes to would be torn
    await quotas.check_many(session, platform, user.user_id, {"disks": 1, "disk_gib": src.size_gb})
    await _name_free(session, user.user_id, body.name)
    d = Disk(id=new_id(), user_id=user.user_id, name=body.name, format=src.format, size_gb=src.size_gb,
             size_bytes=src.size_bytes, status="cloning", operation="clone", progress_percent=0.0)
    session.add(d)
    await flush_or_conflict(session, f"you already have a disk named '{body.name}'")
    src_path, fmt = path_of(platform, src), src.format

    async def work(progress: Callable[[float], None]) -> None:
        dst = path_of(platform, d)
        part = dst.with_suffix(".part")
        try:
            await images.convert(src_path, fmt, part, fmt, progress)
            part.replace(dst)
        finally:
            part.unlink(missing_ok=True)

    return await _begin(platform, session, d, "cloning", "clone", work, None, source=src.id)


async def delete(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> None:
    d = await get(session, user, ref)
    _idle(d)
    _free(platform, d)
    await session.delete(d)
    _record(session, d, "disk.deleted")
    await session.commit()
    for fmt in ("qcow2", "raw", "vmdk", "vdi"):
        path_of(platform, d, fmt).unlink(missing_ok=True)


async def info(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> dict[str, object]:
    d = await get(session, user, ref)
    _idle(d)
    found = await images.info(path_of(platform, d), d.format)
    return {"format": found.get("format"), "virtual_size": found.get("virtual-size"),
            "actual_size": found.get("actual-size"), "dirty": found.get("dirty-flag", False)}


# --- attachment to VMs (seen by the guest from its next boot: microvm has no hot-plug) --------------

def _vm_name(platform: Platform, instance_id: str) -> str:
    return container_name(platform, instance_id)


def _attached_vm(platform: Platform, d: Disk) -> str | None:
    """The VM the disk is attached to, if that VM still exists (a deleted VM left it free)."""
    if d.instance_id is None:
        return None
    name = _vm_name(platform, d.instance_id)
    return name if vm_driver(platform).owns(name) else None


def _not_running(platform: Platform, d: Disk) -> None:
    """409 while a running VM has the disk open (it booted with it)."""
    vm = vm_driver(platform).disk_in_use(path_of(platform, d))
    if vm is not None:
        raise Conflict(f"disk '{d.name}' is in use by a running VM: stop the VM first")


def _free(platform: Platform, d: Disk) -> None:
    """409 while the disk is attached to a VM or still open in one."""
    if _attached_vm(platform, d):
        raise Conflict(f"disk '{d.name}' is attached to instance {d.instance_id}: detach it first")
    _not_running(platform, d)


async def attach(platform: Platform, session: AsyncSession, user: Principal, ref: str, body: DiskAttach) -> Disk:
    d = await get(session, user, ref)
    _idle(d)
    inst = await compute.get_instance(session, user, body.instance_id)  # another user's: 404
    if (inst.meta or {}).get("backend") != "vm":
        raise InvalidInput("disks attach to VMs (backend: vm); containers take volumes")
    if d.format not in ATTACHABLE:
        raise InvalidInput(f"a {d.format} disk is not attached to VMs: convert it to qcow2 or raw first")
    if d.instance_id == inst.id and _attached_vm(platform, d):
        return d
    if _attached_vm(platform, d):
        raise Conflict(f"disk '{d.name}' is attached to instance {d.instance_id}: detach it first")
    name = _vm_name(platform, inst.id)
    driver = vm_driver(platform)
    if not driver.owns(name):
        raise Conflict("the VM is still being created: attach the disk once it is running or stopped")
    await driver.set_disk(name, d.id, path_of(platform, d), d.format)
    d.instance_id, d.updated_at = inst.id, utcnow()
    _record(session, d, "disk.attached", instance_id=inst.id, effective="next boot")
    await session.commit()
    return d


async def detach(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> Disk:
    d = await get(session, user, ref)
    if d.instance_id is None:
        raise InvalidInput(f"disk '{d.name}' is not attached")
    name = _vm_name(platform, d.instance_id)
    if vm_driver(platform).owns(name):
        await vm_driver(platform).set_disk(name, d.id, None)
    old, d.instance_id, d.updated_at = d.instance_id, None, utcnow()
    _record(session, d, "disk.detached", instance_id=old, effective="next boot")
    await session.commit()
    return d


# --- internal snapshots (qcow2) ------------------------------------------------------------------

async def _snapshots(platform: Platform, d: Disk) -> list[SnapshotOut]:
    found = await images.info(path_of(platform, d), d.format)
    return [SnapshotOut(name=s["name"], size_gb=max(1, -(-int(s.get("vm-state-size", 0) or 0) // GIB)),
                        created_at=dt.datetime.fromtimestamp(int(s.get("date-sec", 0)), dt.UTC))
            for s in found.get("snapshots") or []]


def _snapshottable(platform: Platform, d: Disk) -> None:
    _idle(d)
    if d.format != "qcow2":
        raise InvalidInput(f"snapshots are kept inside qcow2 disks; '{d.name}' is {d.format} (convert it first)")
    _not_running(platform, d)


async def list_snapshots(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> list[SnapshotOut]:
    d = await get(session, user, ref)
    if d.format != "qcow2":
        return []
    _idle(d)
    return await _snapshots(platform, d)


async def snapshot(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                   body: SnapshotCreate) -> SnapshotOut:
    d = await get(session, user, ref)
    _snapshottable(platform, d)
    existing = await _snapshots(platform, d)
    if any(s.name == body.name for s in existing):
        raise Conflict(f"disk '{d.name}' already has a snapshot named '{body.name}'")
    if len(existing) >= MAX_SNAPSHOTS:
        raise Conflict(f"a disk keeps at most {MAX_SNAPSHOTS} snapshots: delete one first")
    await images.snapshot(path_of(platform, d), "-c", body.name)
    _record(session, d, "disk.snapshot_created", snapshot=body.name)
    await session.commit()
    return next(s for s in await _snapshots(platform, d) if s.name == body.name)


async def _named(platform: Platform, d: Disk, name: str) -> None:
    if not any(s.name == name for s in await _snapshots(platform, d)):
        raise NotFound(f"disk '{d.name}' has no snapshot '{name}'")


async def revert(platform: Platform, session: AsyncSession, user: Principal, ref: str, name: str) -> Disk:
    d = await get(session, user, ref)
    _snapshottable(platform, d)
    await _named(platform, d, name)
    await images.snapshot(path_of(platform, d), "-a", name)
    found = await images.info(path_of(platform, d), d.format)
    d.size_bytes = int(found["virtual-size"])
    d.size_gb, d.updated_at = max(1, -(-d.size_bytes // GIB)), utcnow()
    _record(session, d, "disk.reverted", snapshot=name)
    await session.commit()
    return d


async def delete_snapshot(platform: Platform, session: AsyncSession, user: Principal, ref: str, name: str) -> None:
    d = await get(session, user, ref)
    _snapshottable(platform, d)
    await _named(platform, d, name)
    await images.snapshot(path_of(platform, d), "-d", name)
    _record(session, d, "disk.snapshot_deleted", snapshot=name)
    await session.commit()


# --- background operations -----------------------------------------------------------------
Work = Callable[[Callable[[float], None]], Awaitable[None]]
Undo = Callable[[AsyncSession, Disk], Awaitable[None]]


def _tasks(platform: Platform) -> dict[str, asyncio.Task[None]]:
    return platform.get_or_create("disks.tasks", dict)


async def _begin(platform: Platform, session: AsyncSession, d: Disk, status: str, operation: str, work: Work,
                 undo: Undo | None, **data: object) -> Disk:
    d.status, d.operation, d.progress_percent, d.error, d.updated_at = status, operation, 0.0, None, utcnow()
    _record(session, d, f"disk.{operation}_started", **data)
    await session.commit()
    _tasks(platform)[d.id] = asyncio.create_task(_run(platform, d.id, d.user_id, operation, work, undo),
                                                 name=f"disk-{operation}-{d.id}")
    return d


async def _run(platform: Platform, disk_id: str, user_id: str, operation: str, work: Work,
               undo: Undo | None) -> None:
    last = [0.0]

    def progress(percent: float) -> None:  # written at most once a second
        if time.monotonic() - last[0] < 1.0:
            return
        last[0] = time.monotonic()
        write = asyncio.get_running_loop().create_task(_set(platform, disk_id, progress_percent=min(percent, 99.0),
                                                            updated_at=utcnow()))
        _progress_writes.add(write)
        write.add_done_callback(_progress_writes.discard)

    try:
        await work(progress)
    except Exception as exc:  # noqa: BLE001 (any failure ends the operation with the reason)
        reason = exc.message if isinstance(exc, CumuloError) else f"{type(exc).__name__}: {exc}"
        async with platform.db.session() as s:
            row = await s.get(Disk, disk_id)
            if row is not None:
                if undo is not None:
                    await undo(s, row)
                row.status, row.error, row.updated_at = ("error" if operation in ("clone", "create") else "available"), \
                    f"{operation} failed: {reason}", utcnow()
                _record(s, row, f"disk.{operation}_failed", reason=reason)
                await s.commit()
        log.warning("disk %s: %s failed: %s", disk_id, operation, reason)
    else:
        async with platform.db.session() as s:
            row = await s.get(Disk, disk_id)
            if row is not None:
                row.status, row.progress_percent, row.updated_at = "available", 100.0, utcnow()
                _record(s, row, f"disk.{operation}_done", format=row.format, size_gb=row.size_gb)
                await s.commit()
    finally:
        _tasks(platform).pop(disk_id, None)


async def _set(platform: Platform, disk_id: str, **values: object) -> None:
    with contextlib.suppress(Exception):  # a progress note never fails the operation
        async with platform.db.session() as s:
            await s.execute(update(Disk).where(Disk.id == disk_id, Disk.status.in_(WORKING)).values(**values))
            await s.commit()


async def release_orphans(platform: Platform) -> int:
    """Disks still marked attached to an instance that was deleted are free again."""
    released = 0
    async with platform.db.session() as s:
        for d in (await s.scalars(select(Disk).where(Disk.instance_id.is_not(None)))).all():
            try:
                await compute.get_instance(s, d.user_id, str(d.instance_id))
            except NotFound:
                old, d.instance_id = d.instance_id, None
                _record(s, d, "disk.detached", instance_id=old, reason="the instance was deleted")
                released += 1
        await s.commit()
    return released


async def recover(platform: Platform) -> int:
    """A disk left working by a process that stopped (no task here, untouched for a while) ends in
    ``error``: its file is as the interrupted qemu-img left it."""
    running = set(_tasks(platform))
    async with platform.db.session() as s:
        stale = (await s.scalars(select(Disk).where(Disk.status.in_(WORKING),
                                                    Disk.updated_at < utcnow() - STALE_AFTER))).all()
        for d in stale:
            if d.id in running:
                continue
            d.status, d.error = "error", f"{d.operation} was interrupted (the server stopped); delete or retry"
            _record(s, d, f"disk.{d.operation}_failed", reason="interrupted")
        await s.commit()
        return len(stale)
