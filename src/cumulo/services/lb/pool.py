"""Which targets a load balancer serves, and the data-plane ``Route`` it stands for.

The health prober (``health.py``) owns each target's state; the proxy gets only the targets in
service: the healthy ones, or, when none is healthy, every registered target whose instance runs
(fail open, as ALB does: better an answer from a struggling target than a certain 503). Draining
targets take no new requests. Caddy adds passive checks and retries on connection failure, so a
target that dies between two probes costs no failed request while another one answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cumulo.core.clock import aware, utcnow
from cumulo.drivers.proxy.config import Pool, Route, Upstream
from cumulo.services.lb.health import CONNECT_FAILED
from cumulo.services.lb.models import LoadBalancer, Target

ROUTE_PREFIX = "lb-"
RETRIES = 3  # other targets tried when dialing one fails (nothing reached it, so safe for any method)
TRY_SECONDS = 10.0  # longer than one dial timeout, so a vanished target is skipped, not answered with 502
PASSIVE_FAIL_SECONDS = 10.0  # a target that failed a request is skipped this long (until the prober decides)
DIAL_TIMEOUT = 3.0  # the proxy driver's dial timeout
REMOVAL_GRACE = 2 * DIAL_TIMEOUT + 1.0  # see upstream_targets


def route_id(lb_id: str) -> str:
    return f"{ROUTE_PREFIX}{lb_id}"


def candidates(targets: Sequence[Target]) -> list[Target]:
    """Registered targets whose instance runs (an address to dial), draining ones excluded."""
    return [t for t in targets if t.health in ("initial", "healthy", "unhealthy") and t.address]


def in_service(targets: Sequence[Target]) -> tuple[list[Target], bool]:
    """(the targets that take new requests, fail_open). No healthy target: all candidates are served;
    that is failing open when some of them failed their checks (only ``initial`` ones: the checks
    have not run yet, e.g. a new load balancer, which then serves at once)."""
    active = candidates(targets)
    healthy = [t for t in active if t.health == "healthy"]
    if healthy:
        return healthy, False
    return active, any(t.health == "unhealthy" for t in active)


def upstream_targets(targets: Sequence[Target], now: dt.datetime | None = None) -> list[Target]:
    """What the proxy's pool holds: the targets in service, plus, for ``REMOVAL_GRACE`` seconds, a
    target that went unhealthy because nothing answers its address any more (killed, network gone).

    Why the grace: Caddy ends a request with 502 when a config reload happens while it is dialing an
    upstream, even with retries left. A request that started dialing the dead target before Caddy's
    passive check marked it (at its first failed dial) must be allowed to time out and be retried on
    another target before the reload that removes the target. Meanwhile the passive check keeps
    new requests away from it, so it serves nothing. A target that answers but fails its checks
    (wrong status, too slow) goes at once: nothing is pending on a dial to it."""
    serving, _ = in_service(targets)
    if not serving or not any(t.health == "healthy" for t in serving):
        return serving
    now = now or utcnow()
    dying = [t for t in targets if t.health == "unhealthy" and t.address and t.reason_code == CONNECT_FAILED
             and t.health_since is not None and (now - aware(t.health_since)).total_seconds() < REMOVAL_GRACE]
    return serving + dying


def grace_ends(targets: Sequence[Target]) -> list[dt.datetime]:
    """When a dying target's grace ends (the pool changes then)."""
    return [aware(t.health_since) + dt.timedelta(seconds=REMOVAL_GRACE) for t in targets
            if t.health == "unhealthy" and t.reason_code == CONNECT_FAILED and t.health_since is not None]


def pool_for(lb: LoadBalancer, targets: Sequence[Target]) -> Pool:
    serving = upstream_targets(targets)
    upstreams = tuple(Upstream(dial=f"{t.address}:{t.port}", weight=t.weight)
                      for t in sorted(serving, key=lambda t: (t.address or "", t.port, t.id)))
    return Pool(upstreams=upstreams, algorithm=lb.algorithm, health=None, sticky_cookie=lb.sticky_cookie,
                retries=RETRIES, try_seconds=TRY_SECONDS, passive_fail_seconds=PASSIVE_FAIL_SECONDS)


def route_for(lb: LoadBalancer, targets: Sequence[Target]) -> Route:
    return Route(id=route_id(lb.id), owner=lb.user_id, pool=pool_for(lb, targets),
                 hostnames=(lb.hostname,) if lb.hostname and lb.port is None else (), port=lb.port,
                 prefix="/", preserve_host=True, metrics_name=route_id(lb.id))
