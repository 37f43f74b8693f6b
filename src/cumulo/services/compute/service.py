"""Instance use cases: launch, read, stop/start/reboot, update, terminate, logs and stats.

The API writes desired state and then converges the one instance at once (``convergence.converge``);
the reconciler converges everything periodically, so a crash between the two is healed.
Compute sits above images, volumes, secrets and network and imports their services; the services
below it reach instances through ``cumulo.ports`` (``hooks.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core import crypto
from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, CumuloError, InvalidInput, QuotaExceeded
from cumulo.core.events import Event
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.db import locks
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.drivers.compute.base import PortInUse
from cumulo.platform import Platform
from cumulo.services.compute import pending, ports, vms
from cumulo.services.compute.convergence import converge
from cumulo.services.compute.models import Instance
from cumulo.services.compute.schemas import (
    InstanceCreate,
    InstanceOut,
    InstanceUpdate,
    StatsOut,
    format_ports,
    parse_ports,
)
from cumulo.services.compute.vms import instance_driver
from cumulo.services.events import service as events
from cumulo.services.images import service as images
from cumulo.services.network import service as network
from cumulo.services.secrets import service as secrets
from cumulo.services.volumes import service as volumes

MAX_LOG_LINES = 10000
log = logging.getLogger("cumulo.compute")


def instance_out(inst: Instance, volumes: list[dict[str, str]] | None = None) -> InstanceOut:
    bound = inst.ports_bound if inst.status == "RUNNING" and inst.ports_bound else inst.ports
    return InstanceOut(
        id=inst.id, name=inst.name, image=inst.image, status=inst.status, status_reason=inst.status_reason,
        ports=bound, vpc_id=inst.vpc_id, subnet_id=inst.subnet_id, ip_address=inst.ip_address or inst.ipv4_address,
        cpus=inst.cpus, memory_mb=inst.memory_mb, env=inst.env or {},
        env_secrets=(inst.meta or {}).get("env_secrets", {}), command=inst.command,
        has_password=inst.password_sealed is not None, backend=(inst.meta or {}).get("backend", "container"),
        accelerator=(inst.meta or {}).get("accelerator"), cdrom=((inst.meta or {}).get("cdrom") or {}).get("disk_id"),
        volumes=volumes or [], expires_at=aware(inst.expires_at),
        launched_at=aware(inst.launched_at), created_at=aware(inst.created_at), updated_at=aware(inst.updated_at))


async def render(session: AsyncSession, inst: Instance) -> InstanceOut:
    mounts = await volumes.mounts_for_instance(session, inst.id)
    return instance_out(inst, [{"volume": m.source, "mount_path": m.target} for m in mounts])


async def get_instance(session: AsyncSession, user: Principal | str, ref: str) -> Instance:
    """One of the caller's instances by id or name; anyone else's is 404 like a missing one."""
    return await owned(session, Instance, user if isinstance(user, str) else user.user_id, ref, "instance")


async def list_instances(session: AsyncSession, user: Principal) -> list[Instance]:
    return list((await session.scalars(select(Instance).where(Instance.user_id == user.user_id)
                                       .order_by(Instance.created_at, Instance.id))).all())


async def _check_quota(platform: Platform, session: AsyncSession, user: Principal, cpus: float, memory: int) -> None:
    s = platform.settings
    count, used_cpus, used_mem = (await session.execute(
        select(func.count(Instance.id), func.coalesce(func.sum(Instance.cpus), 0.0),
               func.coalesce(func.sum(Instance.memory_mb), 0))
        .where(Instance.user_id == user.user_id))).one()
    exceeded = []
    if count + 1 > s.compute_max_instances:
        exceeded.append(f"instances ({count} of {s.compute_max_instances} in use)")
    if float(used_cpus) + cpus > s.compute_max_vcpus + 1e-9:
        exceeded.append(f"vCPUs ({float(used_cpus):g} of {s.compute_max_vcpus:g} in use, {cpus:g} asked)")
    if int(used_mem) + memory > s.compute_max_memory_mb:
        exceeded.append(f"memory ({int(used_mem)} of {s.compute_max_memory_mb} MB in use, {memory} asked)")
    if exceeded:
        raise QuotaExceeded("quota exceeded: " + "; ".join(exceeded),
                            details={"exceeded": [e.split(" ")[0] for e in exceeded]})


async def create_instance(platform: Platform, session: AsyncSession, user: Principal, body: InstanceCreate,
                          labels: dict[str, str] | None = None) -> Instance:
    """Validate everything, then record the instance (STARTING) with its network and volumes in one
    transaction. Nothing reaches Docker here: ``converge`` does that. ``labels``: extra container
    labels for a service that launches instances for its own resources (``convergence.MEMBER_LABELS``)."""
    backend = await vms.admit(platform, session, user.user_id, body)  # 400/404 before anything exists
    await locks.hold(session, f"quota:{user.user_id}")  # other API processes launch for this user too
    image_ref, to_build = backend.pop("image_ref", None), None
    if not image_ref:  # an on-demand catalogue image not built yet: PENDING until built (``pending``)
        image_ref, to_build = await images.launch_ref(platform, session, user, body.image)
    if await session.scalar(select(Instance.id).where(Instance.user_id == user.user_id, Instance.name == body.name)):
        raise Conflict(f"you already have an instance named '{body.name}'")
    cpus = body.cpus or platform.settings.compute_default_cpus
    memory = body.memory_mb or platform.settings.compute_default_memory_mb
    await _check_quota(platform, session, user, cpus, memory)
    from cumulo.services.quotas import service as quotas  # billing's 402 at zero balance, a plan's limits
    await quotas.admit(session, platform, user.user_id, {"instances": 1, "instance_vcpus": cpus,
                                                          "instance_memory_mb": memory})
    if body.env_secrets:
        clash = sorted(set(body.env_secrets) & set(body.env))
        if clash:
            raise InvalidInput(f"env_secrets: {', '.join(clash)} also set in env")
        await secrets.resolve_env(session, user, body.env_secrets, platform=platform)  # 404s; audited
    now = utcnow()
    inst = Instance(id=new_id(), user_id=user.user_id, name=body.name, image=body.image, image_ref=image_ref,
                    desired="running", status="STARTING", ports=body.ports or "", ports_bound="", env=body.env,
                    command=body.command, cpus=cpus, memory_mb=memory,
                    meta={**({"env_secrets": body.env_secrets} if body.env_secrets else {}),
                          **({"labels": labels} if labels else {}), **backend,
                          **({pending.WAITING: to_build.name} if to_build else {})},
                    expires_at=now + dt.timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else None)
    if to_build:
        inst.status, inst.status_reason = "PENDING", pending.reason(to_build)
    if body.password:
        inst.password_sealed = crypto.seal(platform, body.password.encode(), inst.id.encode())
    inst.ports = format_ports(await ports.reserve(platform, session, inst.id, user.user_id,
                                                  parse_ports(body.ports)))  # 400/409 before anything exists
    new_network = await _place(platform, session, user, inst, body)
    if body.ttl_seconds:  # counted from the moment the instance is recorded (after its network is made)
        inst.expires_at = utcnow() + dt.timedelta(seconds=body.ttl_seconds)
    try:
        session.add(inst)
        if body.volumes:
            await volumes.attach_at_launch(session, user, inst.id, [v.model_dump() for v in body.volumes])
        await flush_or_conflict(session, f"you already have an instance named '{body.name}'")
        events.record(session, user_id=user.user_id, action="instance.created", resource_type="instance",
                      resource_id=inst.id, name=inst.name, image=inst.image, ports=inst.ports, cpus=cpus,
                      memory_mb=memory, ttl_seconds=body.ttl_seconds, vpc_id=inst.vpc_id)
        if to_build:
            events.record(session, user_id=user.user_id, action="instance.image_building", resource_type="instance",
                          resource_id=inst.id, name=inst.name, image=to_build.name, progress="started")
        await session.commit()
    except BaseException:
        if new_network:  # the default VPC made for this launch is rolled back with it
            await platform.drivers.network.remove(new_network)
        raise
    if inst.expires_at is not None:
        platform.runner.wake("compute.expiry")
    return inst


async def _place(platform: Platform, session: AsyncSession, user: Principal, inst: Instance,
                 body: InstanceCreate) -> str | None:
    """Put the instance in its VPC (the user's default VPC when the launch names none; nothing ever
    joins Docker's shared default bridge). Returns the name of a Docker network made for this
    launch (the default VPC's, on first need), which the caller removes if the launch fails."""
    vpc_id, created = body.vpc_id, None
    if not body.vpc_id and not body.subnet_id:
        vpc, made = await network.ensure_default_vpc(platform, session, user.user_id)  # quota lock held
        vpc_id, created = vpc.id, vpc.network_name if made else None
    try:
        placement = await network.attachment_for(platform, session, user, vpc_id, body.subnet_id, instance_id=inst.id)
    except BaseException:
        if created:
            await platform.drivers.network.remove(created)
        raise
    inst.vpc_id, inst.subnet_id = placement.vpc_id, placement.subnet_id
    inst.network_name, inst.ipv4_address = placement.network_name, placement.ipv4_address
    return created


def _user_lock(platform: Platform, user_id: str) -> asyncio.Lock:
    locks: dict[str, asyncio.Lock] = platform.get_or_create("compute.launch_locks", dict)
    return locks.setdefault(user_id, asyncio.Lock())


async def launch(platform: Platform, session: AsyncSession, user: Principal, body: InstanceCreate,
                 labels: dict[str, str] | None = None) -> Instance:
    async with _user_lock(platform, user.user_id):  # one user's launches pass the quota check one at a time
        inst = await create_instance(platform, session, user, body, labels)
    waiting = pending.waiting_for(inst)
    if waiting:  # answered at once, PENDING: the image's build goes on in the background, then the launch
        pending.ensure_build(platform, images.recipe(waiting))
        return inst
    await converge(platform, inst.id)
    if await session.get(Instance, inst.id, populate_existing=True) is None:
        return inst  # already terminated (a ttl shorter than the launch): answered as it was created
    if inst.status == "ERROR" and inst.launched_at is None and (inst.meta or {}).get("error_code") == PortInUse.code:
        reason = inst.status_reason or "a host port is already in use"
        await terminate(platform, session, inst, action="instance.launch_aborted", reason=reason)
        raise PortInUse(reason.removeprefix("launch failed: "))  # taken by another process since the check
    return inst


async def note_reconfigure(session: AsyncSession, instance_id: str, reason: str) -> bool:
    """Record why the instance's container is about to be recreated (e.g. ``volume attached``), in
    the caller's transaction; the recreation's event carries it. True when the instance has a
    container now, i.e. its root filesystem will be reset (a new container from the image)."""
    inst = await session.get(Instance, instance_id)
    if inst is None:
        return False
    inst.meta = {**(inst.meta or {}), "recreate_reason": reason}
    return inst.container_id is not None


async def _transition(platform: Platform, session: AsyncSession, inst: Instance, desired: str, status: str,
                      action: str) -> Instance:
    inst.desired, inst.status, inst.status_reason = desired, status, None
    events.record(session, user_id=inst.user_id, action=action, resource_type="instance", resource_id=inst.id,
                  name=inst.name)
    await session.commit()
    await converge(platform, inst.id)
    await session.refresh(inst)
    return inst


async def stop(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> Instance:
    inst = await get_instance(session, user, ref)
    if inst.desired == "stopped" and inst.status == "STOPPED":
        return inst
    return await _transition(platform, session, inst, "stopped", "STOPPING", "instance.stop_requested")


async def start(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> Instance:
    inst = await get_instance(session, user, ref)
    if inst.status in ("RUNNING", "STARTING", "REBOOTING"):
        return inst
    if inst.status == "PAUSED":
        raise Conflict(f"instance '{inst.name}' is PAUSED: resume it (POST /instances/{inst.id}/resume)")
    return await _transition(platform, session, inst, "running", "STARTING", "instance.start_requested")


async def set_paused(platform: Platform, session: AsyncSession, user: Principal, ref: str, paused: bool) -> Instance:
    """Pause a running VM (QMP ``stop``: its vCPUs halt, its memory stays; PAUSED until resumed), or
    resume a paused one (``cont``). Asking for the state it is in changes nothing."""
    inst = await _vm(session, user, ref, "paused" if paused else "resumed")
    want, source = ("PAUSED", "RUNNING") if paused else ("RUNNING", "PAUSED")
    if inst.status == want:
        return inst
    if inst.status != source or not inst.container_id:
        verb = "paused" if paused else "resumed"
        raise Conflict(f"instance '{inst.name}' is {inst.status}; only a {source} VM can be {verb}")
    driver = vms.vm_driver(platform)
    await (driver.pause if paused else driver.resume)(inst.container_id)
    await converge(platform, inst.id)  # the new status, with its event (or the VM's event watcher got there first)
    await session.refresh(inst)
    return inst


async def _vm(session: AsyncSession, user: Principal, ref: str, verb: str) -> Instance:
    inst = await get_instance(session, user, ref)
    if (inst.meta or {}).get("backend") != "vm":
        raise InvalidInput(f"only VMs (backend: vm) are {verb}; a container is stopped and started instead")
    return inst


async def reboot(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> Instance:
    inst = await get_instance(session, user, ref)
    if inst.status != "RUNNING":
        raise Conflict(f"instance '{inst.name}' is {inst.status}; only a RUNNING instance can be rebooted")
    return await _transition(platform, session, inst, "running", "REBOOTING", "instance.reboot_requested")


async def update(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                 body: InstanceUpdate) -> Instance:
    inst = await get_instance(session, user, ref)
    changed: dict[str, Any] = {}
    if body.name is not None and body.name != inst.name:
        if await session.scalar(select(Instance.id).where(Instance.user_id == user.user_id,
                                                          Instance.name == body.name)):
            raise Conflict(f"you already have an instance named '{body.name}'")
        changed["old_name"], inst.name = inst.name, body.name
        changed["name"] = body.name
    if "ttl_seconds" in body.model_fields_set:
        inst.expires_at = utcnow() + dt.timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else None
        changed["ttl_seconds"] = body.ttl_seconds
    if "cdrom" in body.model_fields_set:
        media = await vms.cdrom_for(platform, session, inst, body.cdrom)  # 400/404 before any change
        if media != (inst.meta or {}).get("cdrom"):
            inst.meta = {k: v for k, v in (inst.meta or {}).items() if k != "cdrom"} | ({"cdrom": media} if media else {})
            if inst.container_id and vms.vm_driver(platform).owns(inst.container_id):
                await vms.vm_driver(platform).set_cdrom(inst.container_id, media["path"] if media else None)
            changed["cdrom"] = media["disk_id"] if media else None
    if not changed:
        return inst
    inst.updated_at = utcnow()
    events.record(session, user_id=user.user_id, action="instance.updated", resource_type="instance",
                  resource_id=inst.id, **changed)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict(f"you already have an instance named '{body.name}'") from exc
    platform.runner.wake("compute.expiry")
    return inst


async def terminate(platform: Platform, session: AsyncSession, inst: Instance, *, action: str = "instance.deleted",
                    **data: Any) -> None:
    """Forget the instance (its network address and volume attachments too) in one transaction, then
    remove its container. A crash in between leaves an orphan the reconciler removes."""
    await network.release_instance(session, inst.id)
    await volumes.release_instance(session, inst.id)
    await ports.release(session, inst.id)
    await session.delete(inst)
    events.record(session, user_id=inst.user_id, action=action, resource_type="instance", resource_id=inst.id,
                  name=inst.name, **data)
    await session.commit()
    platform.bus.publish(Event("instance.deleted", resource_id=inst.id, user_id=inst.user_id,
                               data={"reason": action}))
    await converge(platform, inst.id)
    if inst.vpc_id:
        try:  # its block goes back to the pool when it was the last instance of the default VPC
            await network.retire_default_vpc(platform, inst.user_id)
        except CumuloError as exc:  # the network reconciler retries
            log.warning("default VPC of %s not retired: %s", inst.user_id, exc.message)


async def delete(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> None:
    await terminate(platform, session, await get_instance(session, user, ref))


async def logs(platform: Platform, session: AsyncSession, user: Principal, ref: str, tail: int) -> str:
    inst = await get_instance(session, user, ref)
    if not inst.container_id:
        return ""
    driver = instance_driver(platform)
    if await driver.find(inst.container_id) is None:
        return ""
    return await driver.logs(inst.container_id, min(max(tail, 1), MAX_LOG_LINES))


async def stats(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> StatsOut:
    inst = await get_instance(session, user, ref)
    driver = instance_driver(platform)
    container_id = inst.container_id
    state = await driver.find(container_id) if container_id else None
    if not container_id or state is None or not state.running:
        raise Conflict(f"instance '{inst.name}' is {inst.status}: stats need a running instance")
    s = await driver.stats(container_id)
    return StatsOut(instance_id=inst.id, cpu_percent=s.cpu_percent, memory_bytes=s.memory_bytes,
                    memory_limit_bytes=s.memory_limit_bytes, memory_percent=s.memory_percent, pids=s.pids,
                    net_rx_bytes=s.net_rx_bytes, net_tx_bytes=s.net_tx_bytes, time=utcnow(), **vms.extra_stats(s))


async def expire_due(platform: Platform) -> int:
    """Terminate every instance whose time to live has passed (the ttl scheduler's one pass)."""
    async with platform.db.session() as session:
        due = (await session.scalars(select(Instance).where(Instance.expires_at.is_not(None),
                                                            Instance.expires_at <= utcnow()))).all()
        for inst in due:
            await terminate(platform, session, inst, action="instance.expired",
                            expires_at=inst.expires_at and aware(inst.expires_at).isoformat())
        return len(due)


async def next_expiry(platform: Platform) -> dt.datetime | None:
    async with platform.db.session() as session:
        return aware(await session.scalar(select(func.min(Instance.expires_at))))
