"""One reconcile pass of a deployment: observe its replicas in Docker, run the health checks that
are due, replace what died, and move the rollout one step (idempotent; runs every tick and on
every change).

A pass:
1. Observe. A replica whose instance is gone or failed, or whose container (found by its
   ``cumulo.deployment`` label) is missing or not running, has failed. Containers with the label
   but no replica row (a crash between a launch and its record) are removed.
2. Check health (``probes``) of replicas whose interval has passed. The first pass makes a replica
   healthy; after its start period, ``retries`` consecutive failures make it failed.
3. With a load balancer, a healthy replica becomes its target; a replica is *ready* once healthy
   and registered.
4. Failed replicas leave the load balancer and are terminated. A failed replica of a revision
   being rolled out, while replicas of an earlier revision remain, fails the rollout: back to
   that revision (``failure_action: rollback``; the old replicas kept serving all along) or
   stop there (``pause``), with the reason on the deployment and the revision. Otherwise the
   failure counts towards the crash-loop backoff (``backoff_failures``/``backoff_until`` on the
   deployment's row, so a restart or another worker carries on with it): the replacement starts at
   once, then after 1, 2, 4 ... 30 s; a replica healthy for 10 s, a new revision or a rollback
   resets it.
5. Plan (Kubernetes' rolling update): at most ``replicas + max_surge`` active replicas, at least
   ``replicas - max_unavailable`` ready ones. Replicas of the current revision are started while
   there is room; replicas of earlier revisions retire while enough ready ones remain. A retiring
   replica with a load balancer drains first (the balancer's deregistration delay), then goes.
6. Deadline (Kubernetes' ``progressDeadlineSeconds``): a rollout that made no progress (a
   replica of its revision started in a new slot or became healthy, an old replica retired)
   for ``update.progress_deadline_seconds`` fails like a failing replica does: back to the
   newest completed revision, or paused, per ``failure_action``. With nothing to go back to
   (a first revision), it keeps trying and says so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets as pysecrets
from collections import Counter
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import CumuloError, NotFound
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_RESOURCE, ContainerState
from cumulo.platform import Platform
from cumulo.services.compute import service as compute
from cumulo.services.compute.schemas import InstanceCreate
from cumulo.services.compute.state import down_reason
from cumulo.services.deployments import probes, volumes
from cumulo.services.deployments.models import Deployment, Replica, Revision
from cumulo.services.deployments.service import LABEL, owner, replicas_of, retarget, revision_of, slot_volumes
from cumulo.services.events import service as events

log = logging.getLogger("cumulo.deployments")
DRAIN_SETTLE = 2.0  # seconds past the balancer's delay before a drained replica goes (the proxy's push)
MAX_BACKOFF = 30.0  # a crash-looping revision is restarted at most this often (0, 1, 2, 4 ... seconds)
STABLE_SECONDS = 10.0  # a replica healthy this long ends the backoff
NO_CHECK_READY = 2.0  # without a health check, a replica is healthy once it ran this long
DEFAULT_DEADLINE = 600  # update.progress_deadline_seconds of deployments made before it existed


def backoff_delay(failures: int) -> float:
    """Seconds before the next replacement after ``failures`` failures in a row: 0, 0, 1, 2, 4 ... 30."""
    return 0.0 if failures <= 1 else min(2.0 ** (failures - 2), MAX_BACKOFF)


def _client(platform: Platform) -> Any:
    made = platform.extras.get("deployments.http")
    if made is None:
        made = platform.extras["deployments.http"] = probes.new_client()
        platform.closers.append(made.aclose)
    return made


async def converge(platform: Platform, dep_id: str) -> None:
    async with platform.db.session() as session:
        dep = await session.get(Deployment, dep_id)
        if dep is None:
            return
        await Pass(platform, session, dep).run()


class Pass:
    def __init__(self, platform: Platform, session: AsyncSession, dep: Deployment):
        self.platform, self.session, self.dep = platform, session, dep
        self.driver = compute_driver(platform)
        self.now = utcnow()
        self.failed: list[tuple[Replica, str]] = []
        self.insts: dict[str, Any] = {}
        self.lb: Any | None = None
        self.lb_health: dict[str, str] = {}
        self.specs: dict[int, dict[str, Any]] = {}

    def record(self, action: str, **data: Any) -> None:
        events.record(self.session, user_id=self.dep.user_id, action=f"deployment.{action}",
                      resource_type="deployment", resource_id=self.dep.id, **data)

    # --- 1. observe ------------------------------------------------------------------------------
    async def run(self) -> None:
        dep, session = self.dep, self.session
        rev = await revision_of(session, dep)
        reps = await replicas_of(session, dep.id)
        for number in {r.revision for r in reps} | {dep.revision}:
            try:
                self.specs[number] = (await revision_of(session, dep, number)).spec
            except NotFound:
                self.specs[number] = rev.spec
        containers = {c.labels.get(LABEL_RESOURCE): c for c in await self.driver.list(
            {LABEL_INSTALLATION: self.platform.installation_id, LABEL: dep.id})}
        known = {r.instance_id for r in reps}
        for instance_id in set(containers) - known:  # launched, but the pass that did it never recorded it
            await self._terminate(str(instance_id))
        await self._load_lb()
        alive = []
        reps = [r for r in reps if r.state != "failed"]  # kept only for their slot's restart count
        for r in reps:
            try:
                self.insts[r.instance_id] = await compute.get_instance(session, dep.user_id, r.instance_id)
            except NotFound:
                self.insts[r.instance_id] = None
            why = down_reason(self.insts.get(r.instance_id), containers.get(r.instance_id))
            if why and r.state != "draining":
                self.failed.append((r, why))
            else:
                alive.append(r)
        await self._probe([r for r in alive if r.state in ("starting", "healthy")], containers)
        alive = [r for r in alive if r not in {f for f, _ in self.failed}]
        await self._register(alive)
        await self._remove_failed(rev, alive)
        await self._end_drains(alive)
        if dep.deleting and not [r for r in await replicas_of(session, dep.id) if r.state != "failed"]:
            await self._forget()
            return
        await self._plan(await revision_of(session, dep))
        await session.commit()

    async def _load_lb(self) -> None:
        if not self.dep.load_balancer_id:
            return
        from cumulo.services.lb import service as lb

        try:
            self.lb = await lb.get_lb(self.session, self.dep.user_id, self.dep.load_balancer_id)
        except NotFound:
            self.lb = None
            return
        targets = (await lb.targets_of(self.session, [self.lb.id]))[self.lb.id]
        self.lb_health = {t.instance_id: t.health for t in targets}

    # --- 2. health -------------------------------------------------------------------------------
    async def _probe(self, reps: list[Replica], containers: dict[Any, ContainerState]) -> None:
        due = []
        for r in reps:
            hc = self.specs[r.revision].get("health_check")
            interval = float(hc["interval_seconds"]) if hc else 0.0
            if r.checked_at is None or (self.now - aware(r.checked_at)).total_seconds() >= interval - 0.05:
                due.append(r)
        if not due:
            return
        client = _client(self.platform)

        async def one(r: Replica) -> str | None:
            spec, inst = self.specs[r.revision], self.insts[r.instance_id]
            address = (inst.ipv4_address or inst.ip_address) if inst is not None else None
            return await probes.check(client, self.driver, spec.get("health_check"), spec.get("ports") or [],
                                      address, containers[r.instance_id].id)

        results = await asyncio.gather(*(one(r) for r in due))
        for r, error in zip(due, results, strict=True):
            hc = self.specs[r.revision].get("health_check") or {}
            if not hc and (self.now - aware(r.started_at)).total_seconds() < NO_CHECK_READY:
                continue  # without a check: healthy once it has kept running a moment
            r.checked_at = self.now
            if error is None:
                r.failures, r.last_error = 0, None
                if r.state == "starting":
                    r.state, r.healthy_at = "healthy", self.now
                    if r.revision == self.dep.revision:
                        self.dep.progress_at = self.now
                    self.record("replica_healthy", replica=r.name, revision=r.revision)
                continue
            r.last_error = error
            in_start = (self.now - aware(r.started_at)).total_seconds() < float(hc.get("start_period_seconds", 0))
            if r.state == "starting" and in_start:
                continue  # failures during the start period do not count (as Docker's HEALTHCHECK)
            r.failures += 1
            if r.failures >= int(hc.get("retries", 3)):
                self.failed.append((r, f"health check failed {r.failures} times in a row: {error}"))

    # --- 3. load balancer ------------------------------------------------------------------------
    def _port(self, revision: int) -> int | None:
        spec = self.specs[revision]
        ports = spec.get("ports") or []
        hc = spec.get("health_check") or {}
        return ports[0] if ports else hc.get("port")

    def ready(self, r: Replica) -> bool:
        if r.state != "healthy":
            return False
        return self.lb is None or (r.in_lb and self.lb_health.get(r.instance_id) in ("healthy", "initial"))

    async def _register(self, alive: list[Replica]) -> None:
        if self.lb is None:
            return
        from cumulo.services.lb import service as lb
        from cumulo.services.lb.schemas import TargetIn

        todo = [r for r in alive if r.state == "healthy" and not r.in_lb and self._port(r.revision)]
        if not todo:
            return
        try:
            async with self.platform.db.session() as other:
                await lb.add_targets(self.platform, other, owner(self.dep.user_id), self.lb.id,
                                     [TargetIn(instance_id=r.instance_id, port=self._port(r.revision))
                                      for r in todo])
        except CumuloError as exc:
            self.dep.status_reason = f"could not register replicas with the load balancer: {exc.message}"
            return
        for r in todo:
            r.in_lb = True
            self.lb_health[r.instance_id] = "initial"

    async def _deregister(self, reps: list[Replica]) -> bool:
        """Take replicas out of the load balancer (they drain); True when any was in it."""
        inside = [r for r in reps if r.in_lb]
        if not inside or self.lb is None:
            return False
        from cumulo.services.lb import service as lb
        from cumulo.services.lb.schemas import TargetRef

        refs = [TargetRef(instance_id=r.instance_id) for r in inside if r.instance_id in self.lb_health]
        for r in inside:
            r.in_lb = False
        if refs:
            try:
                async with self.platform.db.session() as other:
                    await lb.remove_targets(self.platform, other, owner(self.dep.user_id), self.lb.id, refs)
            except CumuloError as exc:
                log.info("deployment %s: deregistering replicas: %s", self.dep.id, exc.message)
        return bool(refs)

    # --- 4. failures -----------------------------------------------------------------------------
    async def _remove_failed(self, rev: Revision, alive: list[Replica]) -> None:
        if not self.failed:
            return
        dep = self.dep
        reps = [r for r, _ in self.failed]
        await self._deregister(reps)
        for r, why in self.failed:
            self.record("replica_failed", replica=r.name, revision=r.revision, reason=why, restarts=r.restarts)
            await self._terminate(r.instance_id)
            r.state, r.last_error, r.in_lb = "failed", why, False  # its replacement takes the slot (restarts + 1)
        failed_current = [why for r, why in self.failed if r.revision == dep.revision]
        older = [r.revision for r in alive if r.revision != dep.revision and r.state != "draining"]
        back_to = await self._back_to(older) if failed_current and rev.status == "rolling" and older else None
        if failed_current and back_to is not None:
            await self._rollout_failed(rev, failed_current[0], back_to)
        elif failed_current:  # the crash-loop backoff, in the database: it holds across restarts and workers
            dep.backoff_failures = (dep.backoff_failures or 0) + 1
            delay = backoff_delay(dep.backoff_failures)
            dep.backoff_until = self.now + dt.timedelta(seconds=delay)
            dep.status_reason = f"replica replaced: {failed_current[0]}" + (
                f" (failing repeatedly: next start in {delay:g} s)" if delay else "")
        await self.session.commit()

    async def _back_to(self, older: list[int]) -> int | None:
        """The revision to roll back to: the newest completed one still running, else the most common
        one running that has not failed; without ``older``: the newest completed in the history."""
        statuses = {r.number: r.status for r in await self._revisions()}
        if not older:
            return next((n for n in sorted(statuses, reverse=True)
                         if n != self.dep.revision and statuses[n] in ("complete", "superseded")), None)
        for number in sorted(set(older), reverse=True):
            if statuses.get(number) in ("complete", "superseded"):
                return number
        usable = [n for n in older if n in statuses and statuses[n] != "failed"]
        return Counter(usable).most_common(1)[0][0] if usable else None

    async def _rollout_failed(self, rev: Revision, why: str, back_to: int | None, reason: str | None = None) -> None:
        """Roll back to ``back_to`` or pause (``failure_action``); with nowhere to go back to, only say why."""
        dep = self.dep
        reason = reason or f"revision {rev.number} failed: a new replica {why}"
        if dep.update_config.get("failure_action", "rollback") == "pause":
            dep.paused, dep.status = True, "PAUSED"
            dep.status_reason = f"{reason}; rollout paused (update or roll back to continue)"
            rev.reason = why
            self.record("rollout_paused", revision=rev.number, reason=why)
            return
        if back_to is None:
            dep.status_reason, rev.reason = f"{reason}; no earlier revision to roll back to, still trying", why
            self.record("rollout_stalled", revision=rev.number, reason=why)
            return
        target = await revision_of(self.session, dep, back_to)
        await retarget(self.session, dep, target, "failed", why)
        dep.status = "ROLLING_BACK"
        dep.status_reason = f"{reason}; rolled back to revision {back_to}"
        self.record("rollout_failed", revision=rev.number, reason=why, rolled_back_to=back_to)

    async def _terminate(self, instance_id: str) -> None:
        async with self.platform.db.session() as other:
            try:
                await compute.delete(self.platform, other, owner(self.dep.user_id), instance_id)
            except NotFound:
                pass

    async def _retire(self, r: Replica, why: str) -> None:
        self.record("replica_retired", replica=r.name, revision=r.revision, reason=why)
        if r.revision != self.dep.revision:
            self.dep.progress_at = self.now
        if await self._deregister([r]):
            delay = float(self.lb.deregistration_delay) if self.lb is not None else 0.0
            r.state, r.drain_until = "draining", self.now + dt.timedelta(seconds=delay + DRAIN_SETTLE)
            return
        await self._terminate(r.instance_id)
        await self.session.delete(r)

    async def _end_drains(self, alive: list[Replica]) -> None:
        for r in [r for r in alive if r.state == "draining"]:
            if r.drain_until is None or aware(r.drain_until) <= self.now:
                await self._terminate(r.instance_id)
                await self.session.delete(r)
        await self.session.commit()

    # --- 5. plan ---------------------------------------------------------------------------------
    async def _plan(self, rev: Revision) -> None:
        dep, session = self.dep, self.session
        reps = await replicas_of(session, dep.id)
        n = 0 if dep.deleting else dep.replicas
        cfg = dep.update_config
        surge = int(cfg.get("max_surge", 1)) if cfg.get("order", "start-first") == "start-first" else 0
        failed = {r.slot: r for r in reps if r.state == "failed" and r.revision == dep.revision}
        for r in [r for r in reps if r.state == "failed" and (r.revision != dep.revision or r.slot >= n + surge)]:
            if r.revision == dep.revision:
                failed.pop(r.slot, None)
            await session.delete(r)
        reps = [r for r in reps if r.state != "failed"]
        active = [r for r in reps if r.state != "draining"]
        cur = [r for r in active if r.revision == dep.revision]
        old = [r for r in active if r.revision != dep.revision]
        min_ready = max(n - int(cfg.get("max_unavailable", 0)), 0)
        # scale down the current revision: replicas not ready first, then the newest; with per-replica
        # volumes the highest slots (a StatefulSet's order: slots stay 0..n-1, the others' volumes kept)
        by_volume = bool(rev.spec.get("volumes"))
        extra = sorted(cur, key=lambda r: (-r.slot,) if by_volume else (self.ready(r), -r.slot))[: max(len(cur) - n, 0)]
        for r in extra:
            await self._retire(r, "scaled down" if not dep.deleting else "deployment deleted")
        cur = [r for r in cur if r not in extra]
        # retire earlier revisions while enough ready replicas remain
        ready = sum(1 for r in cur if self.ready(r)) + sum(1 for r in old if self.ready(r))
        for r in sorted(old, key=lambda r: (self.ready(r), r.started_at)):
            if self.ready(r):
                if ready - 1 < min_ready and not dep.deleting:
                    break
                ready -= 1
            await self._retire(r, f"replaced by revision {dep.revision}" if not dep.deleting else "deployment deleted")
            old.remove(r)
        # start replicas of the current revision while there is room
        backing_off = dep.backoff_until is not None and aware(dep.backoff_until) > self.now
        if not dep.paused and not dep.deleting and not backing_off:
            room = n + surge - len(cur) - len(old)
            want = min(n - len(cur), room if old else n - len(cur))
            used = {r.slot for r in cur}
            slots = range(n + surge + len(reps) + 1)
            if rev.spec.get("volumes"):  # a slot's volumes go with it: slots 0..n-1, each held by one replica
                used, slots = {r.slot for r in reps}, range(n)
                want = min(want, len([s for s in slots if s not in used]))
            free = iter(sorted(set(failed) - used) + [s for s in slots if s not in used and s not in failed])
            for _ in range(max(want, 0)):
                if not await self._launch(rev, next(free), failed):
                    break
        await session.commit()
        await self._status(rev)

    async def _launch(self, rev: Revision, slot: int, failed: dict[int, Replica]) -> bool:
        dep, spec = self.dep, rev.spec
        name = f"{dep.name}-{rev.number}-{pysecrets.token_hex(3)}"
        try:
            mounts = await volumes.for_slot(self.platform, self.session, dep, slot, spec.get("volumes") or [])
            body = InstanceCreate(name=name, image=spec["image"], command=spec.get("command"),
                                  env=spec.get("env") or {}, env_secrets=spec.get("env_secrets") or {},
                                  cpus=spec.get("cpus"), memory_mb=spec.get("memory_mb"), vpc_id=dep.vpc_id,
                                  volumes=mounts)
            async with self.platform.db.session() as other:
                inst = await compute.launch(self.platform, other, owner(dep.user_id), body, labels={LABEL: dep.id})
        except CumuloError as exc:
            reason = f"cannot start a replica: {exc.message}"
            if dep.status_reason != reason:
                dep.status_reason = reason
                self.record("replica_launch_failed", revision=rev.number, reason=exc.message)
            return False
        previous = failed.pop(slot, None)
        restarts = previous.restarts + 1 if previous is not None else 0
        if previous is not None:
            await self.session.delete(previous)
        else:  # a replacement of a failed replica is no progress
            dep.progress_at = utcnow()
        self.session.add(Replica(deployment_id=dep.id, user_id=dep.user_id, revision=rev.number, slot=slot,
                                 instance_id=inst.id, name=name, state="starting", failures=0, restarts=restarts,
                                 in_lb=False, started_at=utcnow()))
        self.record("replica_started", replica=name, revision=rev.number, instance_id=inst.id, slot=slot)
        await self.session.commit()
        return True

    async def _status(self, rev: Revision) -> None:
        dep = self.dep
        reps = [r for r in await replicas_of(self.session, dep.id) if r.state != "failed"]
        cur = [r for r in reps if r.revision == dep.revision and r.state != "draining"]
        others = [r for r in reps if r.revision != dep.revision or r.state == "draining"]
        ready = sum(1 for r in cur if self.ready(r))
        if any(r.healthy_at and (self.now - aware(r.healthy_at)).total_seconds() >= STABLE_SECONDS
               for r in cur):
            dep.backoff_failures, dep.backoff_until = 0, None
        done = ready >= dep.replicas and len(cur) == dep.replicas and not others
        if rev.status == "rolling" and not done and await self._past_deadline(rev, reps):
            rev = await revision_of(self.session, dep)
        if rev.status == "rolling" and done:
            rev.status = "complete"
            for other in await self._revisions():
                if other.number != rev.number and other.status == "complete":
                    other.status = "superseded"
            self.record("rollout_complete", revision=rev.number, replicas=dep.replicas)
        if dep.paused:
            status = "PAUSED"
        elif dep.replicas == 0:
            status = "STOPPED" if not reps else "SCALING"
        elif done:
            status = "RUNNING"
        elif dep.status == "ROLLING_BACK" or (dep.status == "UPDATING" and rev.status == "rolling"):
            status = dep.status
        elif rev.status == "rolling" and rev.number == 1:
            status = "SCALING"
        else:
            status = "DEGRADED" if ready < dep.replicas else "SCALING"
        if status != dep.status:
            self.record("status_changed", status=status, previous=dep.status, reason=dep.status_reason)
            dep.status = status
        if status == "RUNNING" and dep.status_reason and dep.status_reason.startswith("cannot start"):
            dep.status_reason = None
        await self.session.commit()

    async def _past_deadline(self, rev: Revision, reps: list[Replica]) -> bool:
        """Fail the rollout when it made no progress within its deadline (once: ``rev.reason`` says so)."""
        dep = self.dep
        deadline = float(dep.update_config.get("progress_deadline_seconds", DEFAULT_DEADLINE))
        if dep.progress_at is None:  # made before deadlines: counted from now
            dep.progress_at = self.now
        since = aware(dep.progress_at)
        if (dep.paused or dep.deleting or not dep.replicas
                or (self.now - since).total_seconds() < deadline or (rev.reason or "").startswith("no progress")):
            return False
        why = f"no progress within {deadline:g} s (update.progress_deadline_seconds)"
        self.record("rollout_deadline_exceeded", revision=rev.number, deadline_seconds=deadline)
        older = [r.revision for r in reps if r.revision != dep.revision and r.state != "draining"]
        await self._rollout_failed(rev, why, await self._back_to(older), f"revision {rev.number} failed: {why}")
        return True

    async def _revisions(self) -> list[Revision]:
        from cumulo.services.deployments.service import revisions

        return await revisions(self.session, self.dep)

    async def _forget(self) -> None:
        dep = self.dep
        kept = sorted(v.volume_id for v in await slot_volumes(self.session, dep.id)) if dep.keep_volumes else []
        if not await volumes.remove_all(self.platform, self.session, dep):
            return  # a volume still held: the next pass tries again
        await self.session.execute(sql_delete(Replica).where(Replica.deployment_id == dep.id))
        await self.session.execute(sql_delete(Revision).where(Revision.deployment_id == dep.id))
        await self.session.delete(dep)
        self.record("deleted", name=dep.name, **({"kept_volumes": kept} if kept else {}))
        await self.session.commit()
