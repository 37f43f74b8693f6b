"""Load balancer series for the server's ``/metrics`` (discovered by ``api/app.py``): requests by
status class and the latency histogram of every load balancer, from the proxy's metrics, labelled
with the load balancer's id, name and owner."""

from __future__ import annotations

from sqlalchemy import select

from cumulo.platform import Platform
from cumulo.services.lb.metrics import of_lb, proxy_text
from cumulo.services.lb.models import LoadBalancer


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


async def render(platform: Platform) -> str:
    async with platform.db.session() as session:
        lbs = list((await session.scalars(select(LoadBalancer).order_by(LoadBalancer.id))).all())
    if not lbs:
        return ""
    text = await proxy_text(platform)
    out = ["# HELP cumulo_lb_requests_total Requests answered by a load balancer, by status class.",
           "# TYPE cumulo_lb_requests_total counter"]
    hist = ["# HELP cumulo_lb_request_duration_seconds Load balancer request latency (the proxy's view).",
            "# TYPE cumulo_lb_request_duration_seconds histogram"]
    for lb in lbs:
        t = of_lb(text, lb)
        labels = f'lb="{lb.id}",name="{_esc(lb.name)}",owner="{lb.user_id}"'
        out += [f'cumulo_lb_requests_total{{{labels},class="{c}"}} {n}' for c, n in t.by_class.items()]
        hist += [f'cumulo_lb_request_duration_seconds_bucket{{{labels},le="{le}"}} {n}' for le, n in t.buckets.items()]
        hist += [f"cumulo_lb_request_duration_seconds_sum{{{labels}}} {t.sum_seconds:.6f}",
                 f"cumulo_lb_request_duration_seconds_count{{{labels}}} {t.requests}"]
    return "\n".join(out + hist) + "\n"
