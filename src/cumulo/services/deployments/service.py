"""Deployment use cases: create, read, update (a rollout or a scale), rollback, delete, logs.

The API validates and writes desired state (the deployment, its revisions); the reconciler
(``rollout.converge``) makes the replicas real: each replica is an instance of the deployment's
owner (so instance quotas, VPCs, image rules and load balancer targets apply as they do to any
instance), found in Docker by its ``cumulo.deployment`` label.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.platform import Platform
from cumulo.runtime import reconcile
from cumulo.services.compute import service as compute
from cumulo.services.deployments.models import Deployment, Replica, Revision, SlotVolume
from cumulo.services.deployments.schemas import (
    SPEC_FIELDS,
    CrashLoopOut,
    DeploymentCreate,
    DeploymentOut,
    DeploymentUpdate,
    ReplicaOut,
    RevisionOut,
    Spec,
    stop_first,
)
from cumulo.services.events import service as events
from cumulo.services.quotas import service as quotas

KIND = "deployments"
LABEL = "cumulo.deployment"  # on every replica's container: the deployment's id
MAX_LOG_LINES = 10000
REVISION_HISTORY = 10


def owner(user_id: str) -> Principal:
    """The deployment's owner, acting through the reconciler (launches and targets in their name)."""
    return Principal(user_id=user_id, email="", name="", role="user", key_id="deployments")


async def get_deployment(session: AsyncSession, user: Principal | str, ref: str) -> Deployment:
    dep = await owned(session, Deployment, user if isinstance(user, str) else user.user_id, ref, "deployment")
    return dep


async def list_deployments(session: AsyncSession, user: Principal) -> list[Deployment]:
    return list((await session.scalars(select(Deployment).where(Deployment.user_id == user.user_id)
                                       .order_by(Deployment.created_at, Deployment.id))).all())


async def ids(platform: Platform) -> list[str]:
    async with platform.db.session() as session:
        return list((await session.scalars(select(Deployment.id))).all())


async def revision_of(session: AsyncSession, dep: Deployment, number: int | None = None) -> Revision:
    rev = await session.scalar(select(Revision).where(Revision.deployment_id == dep.id,
                                                      Revision.number == (number or dep.revision)))
    if rev is None:
        raise NotFound(f"deployment '{dep.name}' has no revision {number or dep.revision}")
    return rev


async def revisions(session: AsyncSession, dep: Deployment) -> list[Revision]:
    return list((await session.scalars(select(Revision).where(Revision.deployment_id == dep.id)
                                       .order_by(Revision.number.desc()))).all())


async def replicas_of(session: AsyncSession, dep_id: str, *, live: bool = False) -> list[Replica]:
    """The deployment's replicas; ``live``: without the rows kept of failed ones (for their slot's
    restart count)."""
    query = select(Replica).where(Replica.deployment_id == dep_id)
    if live:
        query = query.where(Replica.state != "failed")
    return list((await session.scalars(query
                                       .order_by(Replica.revision, Replica.slot, Replica.started_at))).all())


# --- validation ------------------------------------------------------------------------------------

async def _check_spec(platform: Platform, session: AsyncSession, user: Principal, spec: Spec) -> None:
    """The image and secrets as an instance launch checks them (404/400 before anything is written)."""
    from cumulo.services.images import service as images

    await images.image_ref_for(platform, session, user, spec.image)  # the catalogue or the caller's own
    if spec.env_secrets:
        from cumulo.services.secrets import service as secrets

        await secrets.resolve_env(session, user, spec.env_secrets, platform=platform, audit=False)


async def _check_capacity(platform: Platform, session: AsyncSession, dep: Deployment | None, user_id: str,
                          replicas: int, update: dict[str, Any], spec: dict[str, Any]) -> None:
    """Room in the owner's instance quotas for ``replicas`` plus the rollout's surge, counting the
    deployment's current replicas as already used."""
    s = platform.settings
    have = 0 if dep is None else int(await session.scalar(
        select(func.count(Replica.id)).where(Replica.deployment_id == dep.id, Replica.state != "failed")) or 0)
    peak = replicas + (update.get("max_surge", 0) if update.get("order") == "start-first" else 0)
    add = max(peak - have, 0)
    if add:
        cpus = spec.get("cpus") or s.compute_default_cpus
        memory = spec.get("memory_mb") or s.compute_default_memory_mb
        await quotas.check_many(session, platform, user_id, {"instances": add, "instance_vcpus": add * cpus,
                                                             "instance_memory_mb": add * memory})
    await _check_volume_room(platform, session, dep, user_id, replicas, spec)


async def _check_volume_room(platform: Platform, session: AsyncSession, dep: Deployment | None, user_id: str,
                             replicas: int, spec: dict[str, Any]) -> None:
    """Room in the owner's volume quota (GiB) for the slot volumes ``replicas`` would still need."""
    wanted = spec.get("volumes") or []
    largest = platform.settings.volume_max_size_gb
    if any(int(v["size_gb"]) > largest for v in wanted):
        raise InvalidInput(f"volumes: size_gb must be at most {largest} on this installation")
    if not wanted or not replicas:
        return
    from cumulo.services.volumes.models import Volume

    have = set() if dep is None else {(v.slot, v.mount_path) for v in await slot_volumes(session, dep.id)}
    need = sum(int(v["size_gb"]) for slot in range(replicas) for v in wanted if (slot, v["mount_path"]) not in have)
    used = int(await session.scalar(select(func.coalesce(func.sum(Volume.size_gb), 0))
                                    .where(Volume.user_id == user_id)) or 0)
    quota = platform.settings.volume_quota_gb
    if need and used + need > quota:
        raise QuotaExceeded(f"volume quota exceeded: {used} GiB used + {need} GiB for the replicas' volumes > "
                            f"{quota} GiB")


async def slot_volumes(session: AsyncSession, dep_id: str) -> list[SlotVolume]:
    return list((await session.scalars(select(SlotVolume).where(SlotVolume.deployment_id == dep_id)
                                       .order_by(SlotVolume.slot, SlotVolume.mount_path))).all())


async def _lb_id(session: AsyncSession, user: Principal, ref: str | None) -> str | None:
    if ref is None:
        return None
    from cumulo.services.lb import service as lb

    return (await lb.get_lb(session, user, ref)).id


async def _vpc_id(session: AsyncSession, user: Principal, ref: str | None) -> str | None:
    if ref is None:
        return None
    from cumulo.services.network import service as network

    return (await network.get_vpc(session, user, ref)).id


# --- writes ----------------------------------------------------------------------------------------

async def create(platform: Platform, session: AsyncSession, user: Principal, body: DeploymentCreate) -> Deployment:
    taken = f"you already have a deployment named '{body.name}'"
    await _check_spec(platform, session, user, body)
    vpc_id = await _vpc_id(session, user, body.vpc_id)
    lb_id = await _lb_id(session, user, body.load_balancer_id)
    spec = body.model_dump(include=set(SPEC_FIELDS), mode="json")
    update = body.update.model_dump()
    await quotas.check(session, platform, user.user_id, "deployments")  # takes the user's quota lock
    if await session.scalar(select(Deployment.id).where(Deployment.user_id == user.user_id,
                                                        Deployment.name == body.name)):
        raise Conflict(taken)
    await _check_capacity(platform, session, None, user.user_id, body.replicas, update, spec)
    dep = Deployment(id=new_id(), user_id=user.user_id, name=body.name, replicas=body.replicas, revision=1,
                     status="SCALING" if body.replicas else "STOPPED", vpc_id=vpc_id, load_balancer_id=lb_id,
                     update_config=update, paused=False, deleting=False, progress_at=utcnow())
    session.add(dep)
    await flush_or_conflict(session, taken)
    session.add(Revision(id=new_id(), deployment_id=dep.id, number=1, spec=spec, status="rolling",
                         created_at=utcnow()))
    events.record(session, user_id=user.user_id, action="deployment.created", resource_type="deployment",
                  resource_id=dep.id, name=dep.name, image=body.image, replicas=body.replicas,
                  load_balancer_id=lb_id)
    await session.commit()
    reconcile.wake(platform, KIND, dep.id)
    return dep


def _merged(current: dict[str, Any], body: DeploymentUpdate) -> Spec:
    fields = body.model_fields_set & set(SPEC_FIELDS)
    merged = {**current, **body.model_dump(include=fields, mode="json")}
    try:
        return Spec.model_validate(merged)
    except ValueError as exc:
        errors = getattr(exc, "errors", None)
        message = errors()[0].get("msg", str(exc)) if callable(errors) else str(exc)
        raise InvalidInput(message.replace("Value error, ", "")) from None


async def update(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                 body: DeploymentUpdate) -> Deployment:
    """A changed spec is a new revision (a rollout); ``replicas`` alone scales; ``update`` alone
    changes the strategy of the next rollout."""
    dep = await get_deployment(session, user, ref)
    if dep.deleting:
        raise Conflict(f"deployment '{dep.name}' is being deleted")
    current = await revision_of(session, dep)
    spec = _merged(current.spec, body)
    new_spec = spec.model_dump(mode="json")
    was = {**Spec.model_validate(current.spec).model_dump(mode="json"), **current.spec}  # defaults of fields added since
    changed_spec = new_spec != was
    if changed_spec:
        await _check_spec(platform, session, user, spec)
    update_config = body.update.model_dump() if body.update is not None else dep.update_config
    if spec.volumes:  # one replica at a time per slot volume: stop-first, unless start-first was asked (400)
        try:
            update_config = stop_first(update_config, body.update.model_fields_set if body.update else set())
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    replicas = dep.replicas if body.replicas is None else body.replicas
    if not changed_spec and replicas == dep.replicas and update_config == dep.update_config:
        return dep
    await _check_capacity(platform, session, dep, user.user_id, replicas, update_config, new_spec)
    data: dict[str, Any] = {}
    current_update = dep.update_config
    if replicas != dep.replicas:
        data["replicas"], data["previous_replicas"] = replicas, dep.replicas
        dep.replicas = replicas
    dep.update_config = update_config
    if changed_spec:
        number = int(await session.scalar(select(func.max(Revision.number))
                                          .where(Revision.deployment_id == dep.id)) or 0) + 1
        session.add(Revision(id=new_id(), deployment_id=dep.id, number=number, spec=new_spec, status="rolling",
                             created_at=utcnow()))
        data["revision"], data["previous_revision"] = number, dep.revision
        data["changed"] = sorted(k for k in new_spec if new_spec[k] != was.get(k))
        if current.status == "rolling":  # replaced before it completed
            current.status, current.reason = "abandoned", f"replaced by revision {number} before it completed"
        dep.revision, dep.paused, dep.status, dep.status_reason = number, False, "UPDATING", None
        dep.backoff_failures, dep.backoff_until = 0, None  # a new revision starts without the old one's backoff
        await _trim_history(session, dep)
    dep.updated_at = dep.progress_at = utcnow()  # the deadline counts from the change
    if update_config != current_update:
        data["update"] = update_config
    action = "deployment.updated" if changed_spec or "update" in data else "deployment.scaled"
    events.record(session, user_id=user.user_id, action=action, resource_type="deployment", resource_id=dep.id,
                  **data)
    await session.commit()
    reconcile.wake(platform, KIND, dep.id)
    return dep


async def rollback(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                   to: int | None = None) -> Deployment:
    """Back to revision ``to`` (default: the last one before the current that completed), rolled out
    like any update; replicas still running that revision are kept as they are."""
    dep = await get_deployment(session, user, ref)
    if dep.deleting:
        raise Conflict(f"deployment '{dep.name}' is being deleted")
    history = [r for r in await revisions(session, dep) if r.number != dep.revision]
    target = next((r for r in history if (r.number == to if to else r.status in ("complete", "superseded"))), None)
    if target is None:
        raise Conflict(f"deployment '{dep.name}' has no earlier revision to roll back to" if to is None
                       else f"deployment '{dep.name}' has no revision {to}")
    await _check_capacity(platform, session, dep, user.user_id, dep.replicas, dep.update_config, target.spec)
    previous = dep.revision
    await retarget(session, dep, target, "rolled_back", "rollback requested")
    dep.status, dep.status_reason = "ROLLING_BACK", f"rolling back from revision {previous} to {target.number}"
    events.record(session, user_id=user.user_id, action="deployment.rollback_requested", resource_type="deployment",
                  resource_id=dep.id, revision=target.number, previous_revision=previous)
    await session.commit()
    reconcile.wake(platform, KIND, dep.id)
    return dep


async def retarget(session: AsyncSession, dep: Deployment, target: Revision, leaving_status: str,
                   reason: str) -> None:
    """Converge to ``target`` instead of the current revision (which gets ``leaving_status``)."""
    current = await revision_of(session, dep)
    current.status, current.reason = leaving_status, reason
    target.status, target.reason = "rolling", None
    dep.revision, dep.paused, dep.updated_at = target.number, False, utcnow()
    dep.progress_at = dep.updated_at
    dep.backoff_failures, dep.backoff_until = 0, None


async def _trim_history(session: AsyncSession, dep: Deployment) -> None:
    numbers = list((await session.scalars(select(Revision.number).where(Revision.deployment_id == dep.id)
                                          .order_by(Revision.number.desc()))).all())
    old = [n for n in numbers[REVISION_HISTORY:] if n != dep.revision]
    if old:
        await session.execute(sql_delete(Revision).where(Revision.deployment_id == dep.id,
                                                         Revision.number.in_(old)))


async def delete(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                 keep_volumes: bool = False) -> None:
    """Mark it deleting: the reconciler drains and removes every replica, then the slot volumes
    (``keep_volumes``: left to the owner as ordinary volumes), then the deployment."""
    dep = await get_deployment(session, user, ref)
    if not dep.deleting or (keep_volumes and not dep.keep_volumes):
        dep.deleting, dep.status, dep.status_reason = True, "DELETING", "removing its replicas"
        dep.keep_volumes = dep.keep_volumes or keep_volumes
        events.record(session, user_id=user.user_id, action="deployment.delete_requested",
                      resource_type="deployment", resource_id=dep.id, name=dep.name, keep_volumes=dep.keep_volumes)
        await session.commit()
    reconcile.wake(platform, KIND, dep.id)


# --- reads -----------------------------------------------------------------------------------------

async def render(session: AsyncSession, dep: Deployment) -> DeploymentOut:
    try:
        spec = (await revision_of(session, dep)).spec
    except NotFound:  # removed a moment ago, with its deployment (read between the two)
        spec = {}
    reps = await replicas_of(session, dep.id, live=True)
    by_slot: dict[int, list[dict[str, str]]] = {}
    kept = await slot_volumes(session, dep.id)
    for v in kept:
        by_slot.setdefault(v.slot, []).append({"mount_path": v.mount_path, "volume_id": v.volume_id})
    members = []
    for r in reps:
        try:
            inst = await compute.get_instance(session, dep.user_id, r.instance_id)
            address = inst.ipv4_address or inst.ip_address
        except NotFound:
            address = None
        members.append(ReplicaOut(
            id=r.id, name=r.name, instance_id=r.instance_id, revision=r.revision, state=r.state,
            health=("passing" if r.state == "healthy" else "failing" if r.failures else "pending")
            if r.state != "draining" else "draining",
            address=address, restarts=r.restarts, slot=r.slot, volumes=by_slot.get(r.slot, []), in_load_balancer=r.in_lb, last_error=r.last_error,
            started_at=aware(r.started_at), healthy_at=aware(r.healthy_at)))
    ready = sum(1 for r in reps if r.revision == dep.revision and r.state == "healthy")
    crash_loop = CrashLoopOut(failures=dep.backoff_failures, next_start_at=aware(dep.backoff_until)) \
        if dep.backoff_failures else None
    return DeploymentOut(
        id=dep.id, name=dep.name, replicas=dep.replicas, ready_replicas=ready, status=dep.status,
        status_reason=dep.status_reason, revision=dep.revision, spec=spec, update=dep.update_config,
        vpc_id=dep.vpc_id, load_balancer_id=dep.load_balancer_id, paused=dep.paused, members=members,
        crash_loop=crash_loop,
        slot_volumes=[{"slot": v.slot, "mount_path": v.mount_path, "volume_id": v.volume_id} for v in kept],
        created_at=aware(dep.created_at), updated_at=aware(dep.updated_at))


def revision_out(rev: Revision) -> RevisionOut:
    return RevisionOut(number=rev.number, status=rev.status, reason=rev.reason, spec=rev.spec,
                       created_at=aware(rev.created_at))


async def logs(platform: Platform, session: AsyncSession, user: Principal, ref: str, tail: int,
               replica: str | None = None, timestamps: bool = False) -> str:
    """The last ``tail`` lines of all replicas merged in time order, each prefixed with the
    replica's name (and its time with ``timestamps``); ``replica``: one replica's."""
    from cumulo.services.deployments import logs as merged

    dep = await get_deployment(session, user, ref)
    reps = await replicas_of(session, dep.id, live=True)
    if replica is not None:
        reps = [r for r in reps if replica in (r.id, r.name, r.instance_id)]
        if not reps:
            raise NotFound(f"deployment '{dep.name}' has no replica '{replica}'")
    return await merged.read(platform, session, dep, reps, min(max(tail, 1), MAX_LOG_LINES), timestamps)
