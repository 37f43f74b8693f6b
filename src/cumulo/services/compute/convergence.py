"""Converge Docker to the database, one instance at a time (idempotent; safe to run any time).

Desired state is ``Instance.desired`` (running/stopped) plus the status that asks for an action
(STARTING, STOPPING, REBOOTING). The container is found by its labels, never by a remembered id
alone, and carries ``cumulo.spec`` (a digest of everything it was created from) so a changed spec
(e.g. a volume attached) recreates it. Its name is derived from the instance id, so two processes
converging at once can never create two containers for one instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from cumulo.core import crypto
from cumulo.core.clock import aware, iso, reading_at, utcnow
from cumulo.core.errors import Conflict, CumuloError
from cumulo.core.events import Event
from cumulo.drivers.compute.base import (
    LABEL_INSTALLATION,
    LABEL_KIND,
    LABEL_OWNER,
    LABEL_RESOURCE,
    SECRETS_PATH,
    ComputeDriver,
    ContainerSpec,
    ContainerState,
    VolumeMount,
)
from cumulo.drivers.vm import slots
from cumulo.platform import Platform
from cumulo.services.compute import vms
from cumulo.services.compute.models import Instance
from cumulo.services.compute.schemas import format_ports, parse_ports
from cumulo.services.compute.vms import LABEL_BACKEND, instance_driver
from cumulo.services.events import service as events
from cumulo.services.network import service as network
from cumulo.services.secrets import service as secrets
from cumulo.services.volumes import service as volumes

log = logging.getLogger("cumulo.compute")
KIND = "instance"
LABEL_SPEC = "cumulo.spec"
IMAGE_BUILD = "image_build"  # Instance.meta: the on-demand catalogue image it waits for (``pending``)
MEMBER_LABELS = ("cumulo.deployment", "cumulo.group")  # set by deployments / auto-scaling groups (meta.labels)
VM_EVENTS = "compute.vm_events"  # the loop that keeps a QMP event watcher on every running VM (vmevents)
PASSWORD_ENV = "CUMULO_PASSWORD"  # the password's file name under /run/secrets (and the variable)
SET_PASSWORD = ["sh", "-c", (f'p="${{{PASSWORD_ENV}:-$(cat {SECRETS_PATH}/{PASSWORD_ENV} 2>/dev/null)}}"; '
                             'echo "root:$p" | chpasswd >/dev/null 2>&1 || true')]


def container_name(platform: Platform, instance_id: str) -> str:
    return f"cumulo-{platform.installation_id}-{instance_id}"


def _lock(platform: Platform, instance_id: str) -> asyncio.Lock:
    locks: dict[str, asyncio.Lock] = platform.get_or_create("compute.locks", dict)
    return locks.setdefault(instance_id, asyncio.Lock())


async def _mounts(session: AsyncSession, instance_id: str) -> list[VolumeMount]:
    return [VolumeMount(m.source, m.target, m.read_only) for m in await volumes.mounts_for_instance(session,
                                                                                                    instance_id)]


def _secret_refs(inst: Instance) -> dict[str, str]:
    return dict((inst.meta or {}).get("env_secrets") or {})


async def build_spec(platform: Platform, session: AsyncSession, inst: Instance) -> ContainerSpec:
    labels = {k: str(v) for k, v in ((inst.meta or {}).get("labels") or {}).items() if k in MEMBER_LABELS}
    labels.update({LABEL_INSTALLATION: platform.installation_id, LABEL_KIND: KIND, LABEL_RESOURCE: inst.id,
                   LABEL_OWNER: inst.user_id})
    if (inst.meta or {}).get("backend") == "vm":
        labels[LABEL_BACKEND] = "vm"
    env = dict(inst.env or {})
    spec = ContainerSpec(
        name=container_name(platform, inst.id), image=inst.image_ref, labels=labels, command=inst.command,
        env=env, ports=parse_ports(inst.ports), cpus=inst.cpus, memory_mb=inst.memory_mb,
        pids_limit=platform.settings.compute_pids_limit, network=inst.network_name,
        ipv4_address=inst.ipv4_address, aliases=[inst.name] if inst.network_name else [],
        mounts=await _mounts(session, inst.id), hostname=inst.name[:63],
        publish_host=platform.settings.compute_publish_host,
        cdrom=((inst.meta or {}).get("cdrom") or {}).get("path"))
    digest = hashlib.sha256(json.dumps([spec.image, spec.command, sorted(env.items()), inst.ports, spec.cpus,
                                        spec.memory_mb, spec.pids_limit, spec.network, spec.ipv4_address,
                                        [(m.source, m.target, m.read_only) for m in spec.mounts],
                                        inst.password_sealed is not None,
                                        sorted(_secret_refs(inst).items())]).encode()).hexdigest()[:16]
    labels[LABEL_SPEC] = digest
    # Secret values go after the digest (never into a label) and into files on a tmpfs, bind-mounted
    # at /run/secrets (never into the container's configuration that `docker inspect` shows); the
    # container's main process also gets them as environment variables (see secretfiles.WRAPPER).
    if _secret_refs(inst):  # audited at launch
        spec.secret_files.update(await secrets.resolve_env(session, inst.user_id, _secret_refs(inst),
                                                           platform=platform, audit=False))
    spec.secret_files.update(vms.guest_files(inst.meta or {}))
    if inst.password_sealed is not None:
        spec.secret_files[PASSWORD_ENV] = crypto.unseal(platform, inst.password_sealed, inst.id.encode()).decode()
    return spec


async def _leave_default_bridge(platform: Platform, session: AsyncSession, inst: Instance) -> None:
    """An instance recorded before default VPCs existed (no network): place it in its owner's
    default VPC, so its next container never joins Docker's shared default bridge."""
    vpc = await network.default_vpc(platform, inst.user_id)
    placement = await network.attachment_for(platform, session, inst.user_id, vpc.id, None, instance_id=inst.id)
    inst.vpc_id, inst.network_name = placement.vpc_id, placement.network_name
    inst.meta = {**(inst.meta or {}), "recreate_reason": "moved off the shared default bridge into the default VPC"}
    await session.commit()


async def converge(platform: Platform, instance_id: str) -> None:
    """Make Docker match the database for one instance (a deleted row removes its containers)."""
    async with _lock(platform, instance_id):
        driver = instance_driver(platform)
        containers = await driver.list({LABEL_INSTALLATION: platform.installation_id, LABEL_RESOURCE: instance_id})
        async with platform.db.session() as session:
            inst = await session.get(Instance, instance_id)
            if inst is None:
                for c in containers:
                    await driver.destroy(c.id)
                _forget_screen(platform, instance_id)
                return
            try:
                await _converge(platform, session, driver, inst, containers)
                return
            except StaleDataError:  # deleted meanwhile (e.g. its ttl passed during the launch)
                await session.rollback()
        for c in await driver.list({LABEL_INSTALLATION: platform.installation_id, LABEL_RESOURCE: instance_id}):
            await driver.destroy(c.id)
        _forget_screen(platform, instance_id)


def _forget_screen(platform: Platform, instance_id: str) -> None:
    """A deleted instance's VNC slot files (its desktop's or its VM display's) go with it."""
    slots.forget_screen(slots.screen_root(platform.settings.data_dir), instance_id)


async def _record(platform: Platform, session: AsyncSession, inst: Instance, action: str, **data: Any) -> None:
    events.record(session, user_id=inst.user_id, action=action, resource_type="instance", resource_id=inst.id,
                  name=inst.name, **data)
    await session.commit()
    platform.bus.publish(Event(action, resource_id=inst.id, user_id=inst.user_id, data=data))


async def _converge(platform: Platform, session: AsyncSession, driver: ComputeDriver, inst: Instance,
                    containers: list[ContainerState]) -> None:
    current = next((c for c in containers if c.id == inst.container_id), containers[0] if containers else None)
    for extra in containers:
        if current is not None and extra.id != current.id:
            await driver.destroy(extra.id)
    if inst.status == "ERROR" and inst.desired == "running":
        return  # a failed instance stays as it is until the user starts it again
    if (inst.meta or {}).get(IMAGE_BUILD) and inst.desired == "running":
        if inst.status != "PENDING":  # started again while its image is still being built (``pending``)
            inst.status, inst.status_reason = "PENDING", f"waiting for the catalogue image {inst.image} to be built"
            await _record(platform, session, inst, "instance.pending", image=inst.image)
        return
    if inst.network_name is None:
        await _leave_default_bridge(platform, session, inst)
    try:
        spec = await build_spec(platform, session, inst)
    except CumuloError as exc:  # e.g. an injected secret was deleted since the launch
        if inst.desired == "running" and current is None:
            inst.status, inst.status_reason, inst.ports_bound = "ERROR", f"launch failed: {exc.message}", ""
            await _record(platform, session, inst, "instance.launch_failed", reason=exc.message)
            return
        raise
    recreated: str | None = None
    reason = (inst.meta or {}).get("recreate_reason")  # noted by whoever changed the spec (a volume attached)
    if reason is not None:
        inst.meta = {k: v for k, v in inst.meta.items() if k != "recreate_reason"}
    if current is not None and current.labels.get(LABEL_SPEC) != spec.labels[LABEL_SPEC]:
        await driver.destroy(current.id)  # reconfigured (e.g. a volume attached): recreate below
        current, recreated = None, reason or "its configuration changed"
    elif reason is not None:
        await session.commit()  # nothing to recreate after all (e.g. attached and detached at once)
    if inst.desired == "stopped":
        if current is not None and (current.running or current.status == "paused"):
            await driver.stop(current.id)
        if recreated:
            await _record(platform, session, inst, "instance.recreated", reason=recreated,
                          root_filesystem_reset=True)
        if inst.status != "STOPPED":
            inst.status, inst.status_reason, inst.ports_bound = "STOPPED", None, ""
            await _record(platform, session, inst, "instance.stopped")
        return
    await _ensure_running(platform, session, driver, inst, spec, current, recreated)


async def _ensure_running(platform: Platform, session: AsyncSession, driver: ComputeDriver, inst: Instance,
                          spec: ContainerSpec, current: ContainerState | None, recreated: str | None = None) -> None:
    previous = inst.status
    if current is not None and await _guest_did(platform, session, driver, inst, spec, current):
        return
    if current is not None and previous in ("RUNNING", "PAUSED") and not current.running:
        current = await driver.find(current.id) or current  # the list's summary has no exit code nor stop time
        reason = f"the instance stopped on its own (exit code {current.exit_code})"
        if current.oom_killed:
            reason = f"the instance ran out of memory ({inst.memory_mb} MB) and was killed"
        elif current.error and spec.labels.get(LABEL_BACKEND) == "vm":
            reason = current.error
        inst.status, inst.status_reason, inst.ports_bound = "ERROR", reason, ""
        await _record(platform, session, inst, "instance.failed", reason=reason, exit_code=current.exit_code,
                      stopped_at=iso(stopped_at(inst, current)))
        return
    try:
        state = await _start(platform, driver, spec, current, reboot=previous == "REBOOTING")
    except CumuloError as exc:
        inst.status, inst.status_reason, inst.ports_bound = "ERROR", f"launch failed: {exc.message}", ""
        inst.meta = {**(inst.meta or {}), "error_code": exc.code}
        await _record(platform, session, inst, "instance.launch_failed", reason=exc.message)
        return
    if recreated:
        inst.container_id, inst.ports_bound, inst.ip_address = state.id, format_ports(state.ports), state.ip_address
        inst.status, inst.status_reason, inst.started_at = "RUNNING", None, utcnow()
        await _record(platform, session, inst, "instance.recreated", reason=recreated, root_filesystem_reset=True,
                      ports=inst.ports_bound)
        return
    changed = (inst.container_id != state.id or inst.ports_bound != format_ports(state.ports)
               or inst.ip_address != state.ip_address or previous != "RUNNING")
    inst.container_id, inst.ports_bound, inst.ip_address = state.id, format_ports(state.ports), state.ip_address
    if not changed:
        return
    inst.status, inst.status_reason, inst.started_at = "RUNNING", None, utcnow()
    if previous == "STARTING" and inst.launched_at is None:
        inst.launched_at = inst.started_at
        await _record(platform, session, inst, "instance.launched", ports=inst.ports_bound)
    elif previous == "RUNNING" and current is None:
        await _record(platform, session, inst, "instance.recreated", reason="its container had disappeared")
    else:
        action = {"REBOOTING": "instance.rebooted", "STARTING": "instance.started"}.get(previous, "instance.running")
        await _record(platform, session, inst, action, ports=inst.ports_bound)


async def _guest_did(platform: Platform, session: AsyncSession, driver: ComputeDriver, inst: Instance,
                    spec: ContainerSpec, current: ContainerState) -> bool:
    """What a VM did by itself (its QMP events, kept by the driver): paused or resumed, powered off
    by its guest (STOPPED, as a cloud's instance shut down from inside stops), rebooted by its guest
    (booted again). True when that was the change (nothing else to do). Each change is taken with a
    compare-and-set of the status, so of several processes hearing one event only one records it."""
    if spec.labels.get(LABEL_BACKEND) != "vm":
        return False
    previous = inst.status
    if current.status == "paused" and previous in ("RUNNING", "PAUSED", "STARTING"):
        reason = current.error or "paused"
        if (previous != "PAUSED" or inst.status_reason != reason) and \
                await moved(session, inst, previous, status="PAUSED", status_reason=reason):
            await _record(platform, session, inst, "instance.paused", reason=reason)
        return True
    if previous == "PAUSED" and current.running:
        if await moved(session, inst, previous, status="RUNNING", status_reason=None):
            await _record(platform, session, inst, "instance.resumed")
        return True
    if previous not in ("RUNNING", "PAUSED") or current.running or current.shutdown is None:
        return False
    if current.shutdown == "poweroff":
        reason = "the guest powered itself off (a shutdown inside the VM); start it again when needed"
        if await moved(session, inst, previous, desired="stopped", status="STOPPED", status_reason=reason,
                       ports_bound=""):
            await driver.stop(current.id)  # its port container and host ports go with it
            await _record(platform, session, inst, "instance.stopped", reason=reason, by="guest")
        return True
    # a reboot asked for inside the guest (the machine powers off on a reset): boot it again
    if not await moved(session, inst, previous, status="REBOOTING", status_reason="the guest rebooted itself"):
        return True
    await session.commit()
    try:
        state = await driver.start(current.id)
    except CumuloError as exc:
        inst.status, inst.status_reason, inst.ports_bound = "ERROR", f"reboot failed: {exc.message}", ""
        await _record(platform, session, inst, "instance.failed", reason=inst.status_reason)
        return True
    inst.container_id, inst.ports_bound, inst.ip_address = state.id, format_ports(state.ports), state.ip_address
    inst.status, inst.status_reason, inst.started_at = "RUNNING", None, utcnow()
    platform.runner.wake(VM_EVENTS)
    await _record(platform, session, inst, "instance.rebooted", by="guest", ports=inst.ports_bound)
    return True


async def moved(session: AsyncSession, inst: Instance, previous: str, **values: Any) -> bool:
    """Set ``values`` on the instance if its status is still ``previous`` in the database (one
    statement: the check and the write cannot interleave with another process's); False, with the
    session rolled back and ``inst`` re-read, when someone else changed it first."""
    result = await session.execute(update(Instance).where(Instance.id == inst.id, Instance.status == previous)
                                   .values(**values, updated_at=utcnow()).execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        await session.rollback()
        with contextlib.suppress(Exception):
            await session.refresh(inst)
        return False
    for key, value in values.items():
        setattr(inst, key, value)
    return True


def stopped_at(inst: Instance, container: ContainerState) -> dt.datetime | None:
    """When a container that stopped on its own really stopped, in Cumulo's time (the billing meter ends
    its run there, not when this reconciler noticed): the engine's stop time (Docker's
    ``State.FinishedAt``, a VM's exit when its driver knows it), no later than now and no earlier than
    the instance's last start; None when the engine does not say."""
    if container.finished_at is None:
        return None
    moment = min(reading_at(container.finished_at), utcnow())
    started = aware(inst.started_at)
    return max(moment, started) if started is not None else moment


async def _start(platform: Platform, driver: ComputeDriver, spec: ContainerSpec, current: ContainerState | None,
                 *, reboot: bool) -> ContainerState:
    created = current is None
    if current is not None and not current.running:
        await driver.write_secrets(spec)  # its files live on a tmpfs: a host reboot or a new value
    if current is None:
        try:
            current = await driver.create(spec)
        except Conflict:  # another process created it a moment ago: adopt it
            found = await driver.find(spec.name)
            if found is None:
                raise
            current, created = found, False
    try:
        if reboot and current.running:
            state = await driver.restart(current.id)
        elif current.running:
            state = await driver.find(current.id) or current
        else:
            state = await driver.start(current.id)
    except CumuloError:
        if created:
            await driver.destroy(current.id)  # nothing half-created
        raise
    if spec.labels.get(LABEL_BACKEND) == "vm":
        platform.runner.wake(VM_EVENTS)  # its event watcher (in whichever process watches VMs)
    if PASSWORD_ENV in spec.secret_files and (created or not current.running):
        try:
            await driver.run_command(state.id, SET_PASSWORD)
        except CumuloError:
            log.info("could not set the root password inside %s (no chpasswd?)", spec.name)
    return state


async def sweep(platform: Platform) -> None:
    """The reconciler's pass: converge every instance, then remove this installation's orphans."""
    async with platform.db.session() as session:
        ids = set((await session.scalars(select(Instance.id))).all())
    for instance_id in ids:
        try:
            await converge(platform, instance_id)
        except CumuloError as exc:
            log.warning("instance %s not converged: %s", instance_id, exc.message)
    driver = instance_driver(platform)
    alive = await driver.list({LABEL_INSTALLATION: platform.installation_id, LABEL_KIND: KIND})
    for c in alive:
        resource = c.labels.get(LABEL_RESOURCE)
        if resource not in ids:
            async with platform.db.session() as session:  # re-check: it may have been created meanwhile
                if resource and await session.get(Instance, resource) is not None:
                    continue
            log.info("removing orphan container %s (instance %s is gone)", c.name, resource)
            await driver.destroy(c.id)
            if resource:
                _forget_screen(platform, resource)
    # secret files of containers removed behind our back (folders written in the last minutes stay:
    # a container may be being created right now)
    await driver.prune_secrets({c.name for c in alive} | {container_name(platform, i) for i in ids})
