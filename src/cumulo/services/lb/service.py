"""Load balancer use cases: create, read, update, delete, register and deregister targets.

Targets are the caller's own instances (``compute.service.get_instance``: another user's is 404),
reached on their VPC address. Every committed change tells the gateway (``providers.changed``),
which coalesces pushes to Caddy, and wakes the health prober (``lb.health``).
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.config import parse_port_range
from cumulo.core.errors import Conflict, InvalidInput, NotFound, not_found
from cumulo.core.ids import new_id
from cumulo.core.principal import Principal
from cumulo.db.constraints import flush_or_conflict
from cumulo.db.lookup import owned
from cumulo.platform import Platform
from cumulo.services.compute import service as compute
from cumulo.services.events import service as events
from cumulo.services.gateway import hostnames, providers
from cumulo.services.gateway.targets import own_ports
from cumulo.services.lb import pool
from cumulo.services.lb.models import LoadBalancer, Target
from cumulo.services.lb.schemas import (
    HealthCheckIn,
    HealthCheckOut,
    LoadBalancerCreate,
    LoadBalancerOut,
    LoadBalancerUpdate,
    StickyIn,
    TargetIn,
    TargetOut,
    TargetRef,
)
from cumulo.services.quotas import service as quotas

KIND = "loadbalancer"
PROBER = "lb.health"
SERVABLE = ("RUNNING", "ERROR", "REBOOTING")  # ERROR: the container may still answer; the checks decide


# --- targets and their instances -------------------------------------------------------------------

def placement(inst: Any) -> tuple[str | None, str | None]:
    """(the address the proxy dials, why the instance cannot be served)."""
    address = inst.ipv4_address or inst.ip_address
    if inst.desired != "running" or inst.status not in SERVABLE:
        return None, f"instance '{inst.name}' is {inst.status}"
    if not address:
        return None, f"instance '{inst.name}' has no network address yet"
    return address, None


def set_unused(target: Target, reason: str) -> None:
    if target.health != "unused" or target.reason != reason:
        target.health, target.reason, target.reason_code = "unused", reason, "Target.InvalidState"
        target.health_since = utcnow()


def set_initial(target: Target) -> None:
    target.health, target.reason, target.reason_code = "initial", "health checks in progress", \
        "Elb.InitialHealthChecking"
    target.health_since, target.drain_until = utcnow(), None


async def _register(session: AsyncSession, user_id: str, lb: LoadBalancer, existing: Sequence[Target],
                    wanted: Sequence[TargetIn]) -> list[Target]:
    """Add (or update the weight of) the listed targets; 404 for an instance that is not the caller's."""
    by_key = {(t.instance_id, t.port): t for t in existing}
    touched = []
    for item in wanted:
        inst = await compute.get_instance(session, user_id, item.instance_id)
        target = by_key.get((inst.id, item.port))
        if target is None:
            target = Target(id=new_id(), lb_id=lb.id, user_id=user_id, instance_id=inst.id, port=item.port)
            session.add(target)
            by_key[(inst.id, item.port)] = target
            set_initial(target)
        elif target.health == "draining":
            set_initial(target)  # registered again before it went
        target.weight = item.weight
        target.address, why = placement(inst)
        if why:
            set_unused(target, why)
        elif target.health == "unused":
            set_initial(target)
        touched.append(target)
    return touched


def _drain(lb: LoadBalancer, target: Target, session: AsyncSession) -> bool:
    """Deregister: no new requests; in-flight ones finish within the delay. True when it is gone."""
    if lb.deregistration_delay <= 0:
        return True
    if target.health != "draining":
        target.health, target.reason, target.reason_code = "draining", "deregistration in progress", \
            "Target.DeregistrationInProgress"
        target.health_since = utcnow()
        target.drain_until = utcnow() + dt.timedelta(seconds=lb.deregistration_delay)
    return False


def _limit(platform: Platform, count: int) -> None:
    cap = platform.settings.lb_max_targets
    if count > cap:
        raise InvalidInput(f"a load balancer holds at most {cap} targets (CUMULO_LB_MAX_TARGETS); {count} asked")


async def targets_of(session: AsyncSession, lb_ids: Sequence[str]) -> dict[str, list[Target]]:
    found: dict[str, list[Target]] = {i: [] for i in lb_ids}
    if lb_ids:
        rows = await session.scalars(select(Target).where(Target.lb_id.in_(list(lb_ids)))
                                     .order_by(Target.created_at, Target.id))
        for t in rows:
            found[t.lb_id].append(t)
    return found


# --- rendering -------------------------------------------------------------------------------------

def render(platform: Platform, lb: LoadBalancer, targets: Sequence[Target]) -> LoadBalancerOut:
    serving, fail_open = pool.in_service(targets)
    ids = {t.id for t in serving}
    if fail_open:
        message = f"no target is healthy: serving all {len(serving)} registered running targets (fail open)"
    elif serving and not any(t.health == "healthy" for t in serving):
        message = f"health checks in progress: serving the {len(serving)} registered running targets"
    elif serving:
        message = f"{len(serving)} of {len(targets)} targets in service"
    else:
        message = "no target in service: requests are answered 503"
    return LoadBalancerOut(
        id=lb.id, name=lb.name, url=hostnames.public_url(platform.settings, hostname=lb.hostname, port=lb.port),
        hostname=lb.hostname, port=lb.port, algorithm=lb.algorithm,
        health_check=HealthCheckOut(path=lb.hc_path, port=lb.hc_port, interval_seconds=lb.hc_interval,
                                    timeout_seconds=lb.hc_timeout, healthy_threshold=lb.hc_healthy,
                                    unhealthy_threshold=lb.hc_unhealthy, matcher=lb.hc_matcher),
        sticky=StickyIn(cookie_name=lb.sticky_cookie) if lb.sticky_cookie else None,
        deregistration_delay_seconds=lb.deregistration_delay,
        targets=[TargetOut(id=t.id, instance_id=t.instance_id, port=t.port, weight=t.weight, address=t.address,
                           health=t.health, reason=t.reason, reason_code=t.reason_code,
                           last_failure=t.last_failure, last_failure_at=aware(t.last_failure_at),
                           health_since=aware(t.health_since), drain_until=aware(t.drain_until),
                           in_service=t.id in ids) for t in targets],
        in_service=len(serving), fail_open=fail_open, status_message=message,
        created_at=aware(lb.created_at), updated_at=aware(lb.updated_at))


async def render_one(platform: Platform, session: AsyncSession, lb: LoadBalancer) -> LoadBalancerOut:
    return render(platform, lb, (await targets_of(session, [lb.id]))[lb.id])


# --- load balancers --------------------------------------------------------------------------------

async def get_lb(session: AsyncSession, user: Principal | str, ref: str) -> LoadBalancer:
    return await owned(session, LoadBalancer, user if isinstance(user, str) else user.user_id, ref, "load balancer")


async def list_lbs(session: AsyncSession, user: Principal) -> list[LoadBalancer]:
    return list((await session.scalars(select(LoadBalancer).where(LoadBalancer.user_id == user.user_id)
                                       .order_by(LoadBalancer.created_at, LoadBalancer.id))).all())


def _check_port(platform: Platform, port: int) -> None:
    s = platform.settings
    low, high = parse_port_range(s.lb_port_range)
    if not low <= port <= high:
        raise InvalidInput(f"port {port} is outside the load balancer port range {s.lb_port_range} "
                           "(CUMULO_LB_PORT_RANGE)")
    if port in own_ports(platform):
        raise InvalidInput(f"port {port} is reserved by Cumulo itself")
    with socket.socket() as probe:  # held by something else on this machine: Caddy could not listen
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((s.proxy_listen_host, port))
        except OSError:
            raise Conflict(f"port {port} is already in use on this machine") from None


def _hostname(platform: Platform, user: Principal, name: str, custom: str | None) -> str:
    if custom:
        return hostnames.check_custom(platform.settings, custom, user.user_id)
    return hostnames.generated_hostname(platform.settings, name, user.user_id)


def _apply_health(lb: LoadBalancer, hc: HealthCheckIn) -> None:
    lb.hc_path, lb.hc_port, lb.hc_interval, lb.hc_timeout = hc.path, hc.port, hc.interval_seconds, hc.timeout_seconds
    lb.hc_healthy, lb.hc_unhealthy, lb.hc_matcher = hc.healthy_threshold, hc.unhealthy_threshold, hc.matcher


def _health_in(lb: LoadBalancer) -> dict[str, Any]:
    return {"path": lb.hc_path, "port": lb.hc_port, "interval_seconds": lb.hc_interval,
            "timeout_seconds": lb.hc_timeout, "healthy_threshold": lb.hc_healthy,
            "unhealthy_threshold": lb.hc_unhealthy, "matcher": lb.hc_matcher}


async def _changed(platform: Platform) -> None:
    await providers.changed(platform)
    platform.runner.wake(PROBER)


async def create(platform: Platform, session: AsyncSession, user: Principal, body: LoadBalancerCreate) -> LoadBalancer:
    """Validate everything (quota, name, port or hostname, every target), then write it all in one
    transaction; the proxy gets it on the gateway's next push."""
    await quotas.check(session, platform, user.user_id, "load_balancers")
    taken = f"you already have a load balancer named '{body.name}'"
    if await session.scalar(select(LoadBalancer.id).where(LoadBalancer.user_id == user.user_id,
                                                          LoadBalancer.name == body.name)):
        raise Conflict(taken)
    _limit(platform, len(body.targets))
    lb = LoadBalancer(id=new_id(), user_id=user.user_id, name=body.name, algorithm=body.algorithm,
                      sticky_cookie=body.sticky.cookie_name if body.sticky else None,
                      deregistration_delay=body.deregistration_delay_seconds, port=body.port,
                      custom_hostname=body.hostname is not None)
    _apply_health(lb, body.health_check)
    if body.port is not None:
        if await session.scalar(select(LoadBalancer.id).where(LoadBalancer.port == body.port)):
            raise Conflict(f"port {body.port} is used by another load balancer")
        _check_port(platform, body.port)
    else:
        lb.hostname = _hostname(platform, user, body.name, body.hostname)
        await hostnames.claim(session, user.user_id, lb.hostname, KIND, lb.id)
    session.add(lb)
    await _register(session, user.user_id, lb, [], body.targets)
    await flush_or_conflict(session, taken if body.port is None else f"{taken}, or port {body.port} is taken")
    events.record(session, user_id=user.user_id, action="loadbalancer.created", resource_type=KIND,
                  resource_id=lb.id, name=lb.name, hostname=lb.hostname, port=lb.port, algorithm=lb.algorithm,
                  targets=len(body.targets))
    await session.commit()
    await _changed(platform)
    return lb


async def update(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                 body: LoadBalancerUpdate) -> LoadBalancer:
    lb = await get_lb(session, user, ref)
    fields = body.model_fields_set
    changed: dict[str, Any] = {}
    if body.name is not None and body.name != lb.name:
        if await session.scalar(select(LoadBalancer.id).where(LoadBalancer.user_id == user.user_id,
                                                              LoadBalancer.name == body.name)):
            raise Conflict(f"you already have a load balancer named '{body.name}'")
        lb.name, changed["name"] = body.name, body.name
    if lb.port is not None and body.hostname is not None:
        raise InvalidInput("this load balancer listens on its own port: it has no hostname")
    if lb.port is None and ("hostname" in fields or ("name" in changed and not lb.custom_hostname)):
        custom = body.hostname if "hostname" in fields else (lb.hostname if lb.custom_hostname else None)
        wanted = _hostname(platform, user, lb.name, custom)
        if wanted != lb.hostname:
            await hostnames.release(session, KIND, lb.id)
            await hostnames.claim(session, user.user_id, wanted, KIND, lb.id)
            lb.hostname, changed["hostname"] = wanted, wanted
        lb.custom_hostname = custom is not None
    if body.algorithm is not None and body.algorithm != lb.algorithm:
        lb.algorithm, changed["algorithm"] = body.algorithm, body.algorithm
    if body.health_check is not None:
        merged = {**_health_in(lb), **body.health_check.model_dump(exclude_unset=True)}
        try:
            hc = HealthCheckIn.model_validate(merged)
        except ValueError as exc:
            raise InvalidInput(_first_error(exc)) from None
        _apply_health(lb, hc)
        changed["health_check"] = hc.model_dump()
    if "sticky" in fields:
        lb.sticky_cookie = body.sticky.cookie_name if body.sticky else None
        changed["sticky"] = lb.sticky_cookie
    if body.deregistration_delay_seconds is not None:
        lb.deregistration_delay = changed["deregistration_delay_seconds"] = body.deregistration_delay_seconds
    if body.targets is not None:
        _limit(platform, len(body.targets))
        existing = (await targets_of(session, [lb.id]))[lb.id]
        kept = {t.id for t in await _register(session, user.user_id, lb, existing, body.targets)}
        for t in existing:
            if t.id not in kept and _drain(lb, t, session):
                await session.delete(t)
        changed["targets"] = len(body.targets)
    if not changed:
        return lb
    lb.updated_at = utcnow()
    await flush_or_conflict(session, f"you already have a load balancer named '{lb.name}'")
    events.record(session, user_id=user.user_id, action="loadbalancer.updated", resource_type=KIND,
                  resource_id=lb.id, **changed)
    await session.commit()
    await _changed(platform)
    return lb


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"health_check{'.' + where if where else ''}: {first.get('msg', 'invalid')}".replace("Value error, ", "")
    return str(exc)


async def delete(platform: Platform, session: AsyncSession, user: Principal, ref: str) -> None:
    lb = await get_lb(session, user, ref)
    for t in (await targets_of(session, [lb.id]))[lb.id]:
        await session.delete(t)
    await hostnames.release(session, KIND, lb.id)
    await session.delete(lb)
    events.record(session, user_id=user.user_id, action="loadbalancer.deleted", resource_type=KIND,
                  resource_id=lb.id, name=lb.name)
    await session.commit()
    await _changed(platform)


async def add_targets(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                      items: Sequence[TargetIn]) -> LoadBalancer:
    lb = await get_lb(session, user, ref)
    existing = (await targets_of(session, [lb.id]))[lb.id]
    keys = {(t.instance_id, t.port) for t in existing}
    touched = await _register(session, user.user_id, lb, existing, items)
    _limit(platform, len(keys | {(t.instance_id, t.port) for t in touched}))
    lb.updated_at = utcnow()
    await flush_or_conflict(session, "that target was registered at the same moment by another request")
    events.record(session, user_id=user.user_id, action="loadbalancer.targets_added", resource_type=KIND,
                  resource_id=lb.id, targets=[f"{t.instance_id}:{t.port}" for t in touched])
    await session.commit()
    await _changed(platform)
    return lb


async def remove_targets(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                         items: Sequence[TargetRef]) -> LoadBalancer:
    """Deregister: each target drains (``deregistration_delay_seconds``) and then goes."""
    lb = await get_lb(session, user, ref)
    existing = (await targets_of(session, [lb.id]))[lb.id]
    chosen: dict[str, Target] = {}
    for item in items:
        found = [t for t in existing if t.instance_id == item.instance_id and item.port in (None, t.port)]
        if not found:
            try:  # the instance's name works too
                inst = await compute.get_instance(session, user.user_id, item.instance_id)
            except NotFound:
                inst = None
            found = [t for t in existing if inst is not None and t.instance_id == inst.id
                     and item.port in (None, t.port)]
        if not found:
            port = "" if item.port is None else f" port {item.port}"
            raise not_found("target", f"{item.instance_id}{port}")
        chosen.update({t.id: t for t in found})
    for t in chosen.values():
        if _drain(lb, t, session):
            await session.delete(t)
    lb.updated_at = utcnow()
    events.record(session, user_id=user.user_id, action="loadbalancer.targets_removed", resource_type=KIND,
                  resource_id=lb.id, targets=[f"{t.instance_id}:{t.port}" for t in chosen.values()],
                  deregistration_delay_seconds=lb.deregistration_delay)
    await session.commit()
    await _changed(platform)
    return lb


async def remove_target_by_id(platform: Platform, session: AsyncSession, user: Principal, ref: str,
                              target_id: str) -> LoadBalancer:
    lb = await get_lb(session, user, ref)
    target = next((t for t in (await targets_of(session, [lb.id]))[lb.id] if t.id == target_id), None)
    if target is None:
        raise not_found("target", target_id)
    return await remove_targets(platform, session, user, lb.id, [TargetRef(instance_id=target.instance_id,
                                                                           port=target.port)])
