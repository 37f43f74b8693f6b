"""One pass of an auto-scaling group (every ``CUMULO_AUTOSCALING_EVAL_SECONDS`` and at once after a
change): heal, evaluate the target-tracking policies, launch or retire members.

The algorithm (AWS target tracking and the Kubernetes HPA):

- *Metric* per policy, over the members past their warm-up: ``cpu_percent`` and ``memory_percent``
  are the mean of the metrics sampler's samples of the last evaluation window (at least three
  sampler periods), averaged over members; ``requests_per_target`` is the load balancer's request
  counter's growth per second since the last evaluation, divided by the members.
- *Proposal* = ``ceil(members x metric / target)``, unchanged within a 10 % tolerance; with several
  policies the largest wins; clamped to ``min_size..max_size``.
- *Scale out* at once (no stabilisation: within one or two evaluations of the load).
- *Scale in* only to the highest proposal of the last ``scale_in_stabilization_seconds`` (300),
  not within ``cooldown_seconds`` of the last scaling activity, never with ``scale_in_protection``.
- While a member warms up (``warmup_seconds``), policies do not scale the group (its metrics would
  be misleading, and counting it avoids a second scale-out for one load).
- Members whose instance failed or whose container is gone or stopped are removed and replaced.
  Retired members leave the load balancer first (its deregistration delay), newest first.
- A launch that fails (a quota, a missing image) is a failed activity with the reason.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets as pysecrets
import time
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import CumuloError, NotFound
from cumulo.drivers.compute import compute_driver
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_RESOURCE
from cumulo.platform import Platform
from cumulo.services.autoscaling.models import Activity, Group, Member
from cumulo.services.autoscaling.service import LABEL, activity, members_of
from cumulo.services.compute import service as compute
from cumulo.services.compute.schemas import InstanceCreate
from cumulo.services.compute.state import down_reason
from cumulo.services.deployments.service import owner
from cumulo.services.events import service as events

TOLERANCE = 0.1
DRAIN_SETTLE = 2.0


async def converge(platform: Platform, group_id: str) -> None:
    async with platform.db.session() as session:
        group = await session.get(Group, group_id)
        if group is not None:
            await Pass(platform, session, group).run()


class Pass:
    def __init__(self, platform: Platform, session: AsyncSession, group: Group):
        self.platform, self.session, self.g = platform, session, group
        self.now = utcnow()
        self.lb: Any | None = None
        self.state: dict[str, Any] = dict(group.state or {})

    async def run(self) -> None:
        g, session = self.g, self.session
        members = await members_of(session, g.id)
        containers = {c.labels.get(LABEL_RESOURCE): c for c in await compute_driver(self.platform).list(
            {LABEL_INSTALLATION: self.platform.installation_id, LABEL: g.id})}
        for orphan in set(containers) - {m.instance_id for m in members}:
            await self._terminate(str(orphan))
        await self._load_lb()
        insts: dict[str, Any] = {}
        for m in members:
            try:
                insts[m.instance_id] = await compute.get_instance(session, g.user_id, m.instance_id)
            except NotFound:
                insts[m.instance_id] = None
        serving: list[Member] = []
        for m in members:
            if m.state == "draining":
                if m.drain_until is None or aware(m.drain_until) <= self.now:
                    await self._terminate(m.instance_id)
                    await session.delete(m)
                continue
            why = down_reason(insts[m.instance_id], containers.get(m.instance_id))
            if why:
                await self._deregister([m])
                await self._terminate(m.instance_id)
                await session.delete(m)
                activity(session, g, "Successful", f"member {m.name} was unhealthy: {why}",
                         "terminated it; a replacement is launched", len(serving) + 1, len(serving))
                continue
            serving.append(m)
        await session.commit()
        await self._register(serving, insts)
        if not g.deleting:
            await self._evaluate(serving, platform_eval=self.platform.settings.autoscaling_eval_seconds)
        await self._converge(serving)
        g.state = self.state
        if g.deleting and not await members_of(session, g.id):
            await session.execute(sql_delete(Activity).where(Activity.group_id == g.id))
            events.record(session, user_id=g.user_id, action="autoscaling.deleted", resource_type="autoscaling_group",
                          resource_id=g.id, name=g.name)
            await session.delete(g)
        await session.commit()

    # --- load balancer ---------------------------------------------------------------------------
    async def _load_lb(self) -> None:
        if not self.g.load_balancer_id:
            return
        from cumulo.services.lb import service as lb

        try:
            self.lb = await lb.get_lb(self.session, self.g.user_id, self.g.load_balancer_id)
        except NotFound:
            self.lb = None

    async def _register(self, serving: list[Member], insts: dict[str, Any]) -> None:
        todo = [m for m in serving if not m.in_lb and insts.get(m.instance_id) is not None]
        if self.lb is None or not todo or not self.g.target_port:
            return
        from cumulo.services.lb import service as lb
        from cumulo.services.lb.schemas import TargetIn

        try:
            async with self.platform.db.session() as other:
                await lb.add_targets(self.platform, other, owner(self.g.user_id), self.lb.id,
                                     [TargetIn(instance_id=m.instance_id, port=self.g.target_port) for m in todo])
        except CumuloError:
            return
        for m in todo:
            m.in_lb = True
        await self.session.commit()

    async def _deregister(self, members: list[Member]) -> bool:
        inside = [m for m in members if m.in_lb]
        if self.lb is None or not inside:
            return False
        from cumulo.services.lb import service as lb
        from cumulo.services.lb.schemas import TargetRef

        for m in inside:
            m.in_lb = False
        try:
            async with self.platform.db.session() as other:
                await lb.remove_targets(self.platform, other, owner(self.g.user_id), self.lb.id,
                                        [TargetRef(instance_id=m.instance_id) for m in inside])
        except CumuloError:
            return False
        return True

    async def _terminate(self, instance_id: str) -> None:
        async with self.platform.db.session() as other:
            try:
                await compute.delete(self.platform, other, owner(self.g.user_id), instance_id)
            except NotFound:
                pass

    # --- policies --------------------------------------------------------------------------------
    async def _evaluate(self, serving: list[Member], platform_eval: float) -> None:
        g, now_ts = self.g, time.time()
        if not g.policies or not serving:
            return
        if now_ts - float(self.state.get("evaluated_at", 0)) < platform_eval - 0.05:
            return  # woken between two evaluations (e.g. a manual desired capacity)
        self.state["evaluated_at"] = now_ts
        warm = [m for m in serving if (self.now - aware(m.launched_at)).total_seconds() >= g.warmup_seconds]
        if len(warm) < len(serving):
            self.state["last"] = {"at": self.now.isoformat(), "note": f"{len(serving) - len(warm)} member(s) "
                                  "warming up: no scaling by policy"}
            return
        proposals: list[tuple[int, str]] = []
        measured: dict[str, float] = {}
        for policy in g.policies:
            value = await self._metric(policy["metric"], warm, platform_eval)
            if value is None:
                continue
            measured[policy["metric"]] = round(value, 2)
            target = float(policy["target_value"])
            raw = math.ceil(len(warm) * value / target)
            proposal = g.desired_capacity if abs(value / target - 1) <= TOLERANCE else raw
            proposals.append((proposal, (f"{policy['metric']} {value:.1f} vs target {target:g}: "
                                        f"ceil({len(warm)} x {value:.1f} / {target:g}) = {raw}")))
        if not proposals:
            return
        proposal, why = max(proposals, key=lambda p: p[0])
        proposal = min(max(proposal, g.min_size), g.max_size)
        window = g.scale_in_stabilization_seconds
        recs = [r for r in self.state.get("recommendations", []) if now_ts - r[0] <= window] + [[now_ts, proposal]]
        self.state["recommendations"] = recs
        self.state["last"] = {"at": self.now.isoformat(), "metrics": measured, "proposal": proposal, "why": why}
        before = g.desired_capacity
        if proposal > before:
            g.desired_capacity = proposal
            activity(self.session, g, "Successful", f"target tracking: {why}",
                     f"scale out: desired capacity {before} -> {proposal}", before, proposal)
            self.state["scaled_at"] = now_ts
        elif proposal < before:
            stable = max(r[1] for r in recs)
            since = now_ts - float(self.state.get("scaled_at", 0))
            if stable < before and not g.scale_in_protection and since >= g.cooldown_seconds:
                g.desired_capacity = stable
                activity(self.session, g, "Successful", f"target tracking: {why} (highest proposal of the last "
                         f"{window} s: {stable})", f"scale in: desired capacity {before} -> {stable}", before, stable)
                self.state["scaled_at"] = now_ts

    async def _metric(self, metric: str, warm: list[Member], eval_seconds: float) -> float | None:
        if metric == "requests_per_target":
            return await self._requests(len(warm))
        from cumulo.services.metrics import service as metrics

        window = max(eval_seconds, 3 * self.platform.settings.metrics_interval_seconds)
        since = self.now - dt.timedelta(seconds=window)
        values = []
        for m in warm:
            try:
                series = await metrics.series(self.platform, self.session, owner(self.g.user_id), m.instance_id, since)
            except NotFound:
                continue
            points = [p.cpu_percent if metric == "cpu_percent" else p.memory_percent for p in series.points]
            if points:
                values.append(sum(points) / len(points))
        return sum(values) / len(values) if values else None

    async def _requests(self, members: int) -> float | None:
        if self.lb is None or not members:
            return None
        from cumulo.services.lb import metrics as lb_metrics
        from cumulo.services.lb import service as lb

        targets = (await lb.targets_of(self.session, [self.lb.id]))[self.lb.id]
        count, now_ts = (await lb_metrics.for_lb(self.platform, self.lb, targets)).requests, time.time()
        previous = self.state.get("lb_requests")
        self.state["lb_requests"] = [now_ts, count]
        if not previous or count < previous[1] or now_ts <= previous[0]:
            return None  # the first look, or the proxy's counters restarted
        rate: float = (count - previous[1]) / (now_ts - previous[0]) / members  # the state is JSON: Any
        return rate

    # --- capacity --------------------------------------------------------------------------------
    async def _converge(self, serving: list[Member]) -> None:
        g = self.g
        desired = 0 if g.deleting else g.desired_capacity
        if len(serving) < desired:
            have = len(serving)
            while have < desired and await self._launch(have, desired):
                have += 1
        elif len(serving) > desired:
            for m in sorted(serving, key=lambda m: aware(m.launched_at), reverse=True)[: len(serving) - desired]:
                if await self._deregister([m]):
                    delay = float(self.lb.deregistration_delay) if self.lb is not None else 0.0
                    m.state, m.drain_until = "draining", self.now + dt.timedelta(seconds=delay + DRAIN_SETTLE)
                else:
                    await self._terminate(m.instance_id)
                    await self.session.delete(m)
                events.record(self.session, user_id=g.user_id, action="autoscaling.member_retired",
                              resource_type="autoscaling_group", resource_id=g.id, instance_id=m.instance_id)
        await self.session.commit()

    async def _launch(self, have: int, desired: int) -> bool:
        g = self.g
        name = f"{g.name}-{pysecrets.token_hex(3)}"
        template = {k: v for k, v in g.launch_template.items() if v is not None}
        try:
            async with self.platform.db.session() as other:
                inst = await compute.launch(self.platform, other, owner(g.user_id),
                                            InstanceCreate(name=name, **template), labels={LABEL: g.id})
        except CumuloError as exc:
            if self.state.get("launch_failure") != exc.message:
                self.state["launch_failure"] = exc.message
                activity(self.session, g, "Failed", f"launching a member to reach desired capacity {desired}",
                         f"launch failed: {exc.message}", have, have)
            return False
        self.state.pop("launch_failure", None)
        self.session.add(Member(group_id=g.id, user_id=g.user_id, instance_id=inst.id, name=name, state="in_service",
                                in_lb=False, launched_at=utcnow()))
        events.record(self.session, user_id=g.user_id, action="autoscaling.member_launched",
                      resource_type="autoscaling_group", resource_id=g.id, instance_id=inst.id, name=name)
        await self.session.commit()
        return True
