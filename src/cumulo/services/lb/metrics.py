"""Per load balancer traffic (requests, answers by status class, latency histogram) read from the
proxy's own metrics, for ``GET /loadbalancers/{id}/metrics`` and the server's ``/metrics``."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from cumulo.drivers.proxy.traffic import Traffic, traffic
from cumulo.platform import Platform
from cumulo.services.gateway.dataplane import dataplane
from cumulo.services.lb.models import LoadBalancer, Target
from cumulo.services.lb.schemas import Histogram, MetricsOut

log = logging.getLogger("cumulo.lb")


async def proxy_text(platform: Platform) -> str:
    try:
        return await dataplane(platform).driver.metrics()
    except Exception as exc:  # noqa: BLE001 - the proxy is down: report zeros, never a 500
        log.debug("proxy metrics unavailable: %s", exc)
        return ""


def of_lb(text: str, lb: LoadBalancer) -> Traffic:
    if lb.port is not None:
        return traffic(text, port=lb.port)
    return traffic(text, hostnames=(lb.hostname,) if lb.hostname else ())


async def for_lb(platform: Platform, lb: LoadBalancer, targets: Sequence[Target]) -> MetricsOut:
    t = of_lb(await proxy_text(platform), lb)
    try:
        rows = await dataplane(platform).driver.upstreams()
    except Exception:  # noqa: BLE001
        rows = []
    mine = {f"{x.address}:{x.port}" for x in targets if x.address}
    upstreams = [{"address": str(r.get("address")), "requests_in_flight": int(r.get("num_requests", 0)),
                  "recent_failures": int(r.get("fails", 0))} for r in rows if str(r.get("address")) in mine]
    return MetricsOut(load_balancer_id=lb.id, requests=t.requests, responses_by_class=t.by_class,
                      errors=t.by_class.get("4xx", 0) + t.by_class.get("5xx", 0),
                      latency=Histogram(buckets=list(t.buckets.items()), count=t.requests,
                                        sum_seconds=round(t.sum_seconds, 6)),
                      upstreams=upstreams)
