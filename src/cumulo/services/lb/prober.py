"""The prober: one pass checks every target that is due, moves its health state, re-reads its
instance (stopped or deleted instances leave the rotation), ends finished drains, and tells the
gateway when what is in service changed.

It runs where the reconcilers run (``cumulo up`` or ``cumulo worker``). Consecutive-pass/failure
counters are kept here in memory; states are written to the database only when they change, so an
idle healthy fleet costs one read per pass and no writes. ``run`` returns how long the loop may
sleep before the next target is due.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
from sqlalchemy import select

from cumulo.core.clock import aware, utcnow
from cumulo.core.errors import NotFound
from cumulo.platform import Platform
from cumulo.services.compute import service as compute
from cumulo.services.events import service as events
from cumulo.services.gateway import providers
from cumulo.services.gateway.dataplane import dataplane
from cumulo.services.lb import health, pool
from cumulo.services.lb.models import LoadBalancer, Target
from cumulo.services.lb.service import KIND, placement, set_initial, set_unused

log = logging.getLogger("cumulo.lb")
MAX_SLEEP = 5.0
MIN_SLEEP = 0.05
PARALLEL = 64  # health checks in flight at once
DRAIN_SETTLE = 5.0  # a drain ends early only after the gateway's push (coalesced, <= 2 s) took it out


class Prober:
    def __init__(self, platform: Platform):
        self.platform = platform
        self.counters: dict[str, health.Counters] = {}
        self.due: dict[str, float] = {}  # target id -> monotonic time of its next check
        self.reread = True  # re-read every target's instance on the next pass (an instance event)
        self.pushed: dict[str, tuple[Any, ...]] = {}  # lb id -> the pool the gateway was last told about
        self._client: httpx.AsyncClient | None = None
        self._parallel = asyncio.Semaphore(PARALLEL)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = health.new_client()
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def instance_changed(self) -> None:
        self.reread = True

    async def run(self) -> float:
        now = time.monotonic()
        reread, self.reread = self.reread, False
        async with self.platform.db.session() as session:
            lbs = {lb.id: lb for lb in (await session.scalars(select(LoadBalancer))).all()}
            targets = [t for t in (await session.scalars(select(Target))).all() if t.lb_id in lbs]
            gone = await self._finish_drains(targets)
            active = [t for t in targets if t.health != "draining" and t.id not in gone]
            due = [t for t in active if reread or self.due.get(t.id, 0.0) <= now]
            for t in due:
                try:
                    inst = await compute.get_instance(session, t.user_id, t.instance_id)
                except NotFound:
                    gone.add(t.id)
                    events.record(session, user_id=t.user_id, action="loadbalancer.target_removed",
                                  resource_type=KIND, resource_id=t.lb_id, instance_id=t.instance_id,
                                  port=t.port, reason="the instance was deleted")
                    continue
                address, why = placement(inst)
                if address != t.address:
                    t.address = address
                if why:
                    set_unused(t, why)
                    self.counters.pop(t.id, None)
                elif t.health == "unused":
                    set_initial(t)
            checks = [t for t in due if t.id not in gone and t.health != "unused" and t.address
                      and self.due.get(t.id, 0.0) <= now]
            results = await asyncio.gather(*(self._check(lbs[t.lb_id], t) for t in checks))
            for t, result in zip(checks, results):
                self._apply(lbs[t.lb_id], t, result)
                self.due[t.id] = now + lbs[t.lb_id].hc_interval
            for t in due:  # unused targets too: re-read each interval (and at every instance event)
                if self.due.get(t.id, 0.0) <= now:
                    self.due[t.id] = now + lbs[t.lb_id].hc_interval
            for t in targets:
                if t.id in gone:
                    await session.delete(t)
            remaining = [t for t in targets if t.id not in gone]
            after = {lb_id: self._serving(lb_id, remaining) for lb_id in lbs}
            if session.dirty or session.deleted or session.new:
                await session.commit()
            if after != self.pushed:
                self.pushed = after
                await providers.changed(self.platform)
        self._forget({t.id for t in targets} - gone)
        upcoming = [self.due.get(t.id, now) for t in targets if t.id not in gone and t.health != "draining"]
        upcoming += [time.monotonic() + max(0.0, (aware(t.drain_until) - utcnow()).total_seconds())
                     for t in targets if t.health == "draining" and t.drain_until and t.id not in gone]
        upcoming += [time.monotonic() + (end - utcnow()).total_seconds() for end in pool.grace_ends(remaining)
                     if end > utcnow()]
        return min([MAX_SLEEP, *[u - time.monotonic() for u in upcoming]]) if upcoming else MAX_SLEEP

    @staticmethod
    def _serving(lb_id: str, targets: list[Target]) -> tuple[Any, ...]:
        """What the proxy's pool of ``lb_id`` holds (the gateway pushes when it changes)."""
        return tuple(sorted((t.address, t.port, t.weight) for t in pool.upstream_targets(
            [t for t in targets if t.lb_id == lb_id])))

    async def _check(self, lb: LoadBalancer, t: Target) -> health.Result:
        async with self._parallel:
            return await health.check(self.client, t.address or "", lb.hc_port or t.port, lb.hc_path,
                                      lb.hc_timeout, lb.hc_matcher)

    def _apply(self, lb: LoadBalancer, t: Target, result: health.Result) -> None:
        counters = self.counters.setdefault(t.id, health.Counters())
        state = health.step(t.health, counters, result, lb.hc_healthy, lb.hc_unhealthy)
        if not result.ok and t.last_failure != result.reason:
            t.last_failure, t.last_failure_at = result.reason, utcnow()
        if state == t.health:
            if state == "unhealthy" and not result.ok and t.reason != result.reason:
                t.reason, t.reason_code = result.reason, result.code
            return
        log.info("target %s:%s of load balancer %s: %s -> %s%s", t.address, t.port, lb.id, t.health, state,
                 f" ({result.reason})" if result.reason else "")
        t.health, t.health_since = state, utcnow()
        if state == "healthy":
            t.reason, t.reason_code = None, None
        elif state == "unhealthy":
            t.reason, t.reason_code = result.reason, result.code

    async def _finish_drains(self, targets: list[Target]) -> set[str]:
        """Draining targets whose delay is over, or that the proxy no longer has a request in flight to."""
        draining = [t for t in targets if t.health == "draining"]
        if not draining:
            return set()
        busy = await self._in_flight()
        now = utcnow()
        done = set()
        for t in draining:
            expired = t.drain_until is None or aware(t.drain_until) <= now
            settled = t.health_since is not None and (now - aware(t.health_since)).total_seconds() > DRAIN_SETTLE
            idle = settled and busy is not None and busy.get(f"{t.address}:{t.port}", 0) == 0
            if expired or idle:
                done.add(t.id)
        return done

    async def _in_flight(self) -> dict[str, int] | None:
        """Requests in flight per upstream address, as the proxy counts them (None: unknown)."""
        try:
            rows = await dataplane(self.platform).driver.upstreams()
        except Exception as exc:  # noqa: BLE001 - no proxy answer: drain for the full delay
            log.debug("cannot read the proxy's upstreams: %s", exc)
            return None
        counts: dict[str, int] = {}
        for row in rows:
            counts[str(row.get("address"))] = counts.get(str(row.get("address")), 0) + int(row.get("num_requests", 0))
        return counts

    def _forget(self, alive: set[str]) -> None:
        for table in (self.counters, self.due):
            for key in [k for k in table if k not in alive]:
                del table[key]
