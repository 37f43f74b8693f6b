"""Prometheus metrics: request counts and latency histograms by route and status.

``GET /metrics`` on the API port needs an administrator's API key (``Authorization: Bearer <key>``,
which Prometheus sends with ``authorization: {credentials_file: ...}``). With
``CUMULO_METRICS_ADDRESS=host:port`` the same text is also served without a key on that separate
listener (``metrics_app``), for a scrape network the operator controls.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from cumulo.api.deps import AdminDep

log = logging.getLogger("cumulo.metrics")
CONTENT_TYPE = "text/plain; version=0.0.4"

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = defaultdict(int)
        self.hist: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.sums: dict[tuple[str, str], float] = defaultdict(float)
        # more series from services (``services/<name>/prometheus.py``: ``async render(platform) -> str``)
        self.sources: list[Callable[[], Awaitable[str]]] = []

    async def render_all(self) -> str:
        """The API's own series, then every source's (a failing source is left out, never a 500)."""
        parts = [self.render()]
        for source in self.sources:
            try:
                parts.append(await source())
            except Exception:
                log.exception("a metrics source failed")
        return "".join(parts)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.counts[(method, route, str(status))] += 1
        key = (method, route)
        self.hist[key][bisect.bisect_left(BUCKETS, seconds)] += 1
        self.sums[key] += seconds

    def render(self) -> str:
        out = [
            "# HELP cumulo_http_requests_total HTTP requests by method, route and status.",
            "# TYPE cumulo_http_requests_total counter",
        ]
        for (method, route, status), n in sorted(self.counts.items()):
            out.append(f'cumulo_http_requests_total{{method="{method}",route="{_esc(route)}",status="{status}"}} {n}')
        out += [
            "# HELP cumulo_http_request_duration_seconds HTTP request latency.",
            "# TYPE cumulo_http_request_duration_seconds histogram",
        ]
        for (method, route), counts in sorted(self.hist.items()):
            labels = f'method="{method}",route="{_esc(route)}"'
            total = 0
            for bound, n in zip(BUCKETS, counts):
                total += n
                out.append(f'cumulo_http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {total}')
            total += counts[-1]
            out.append(f'cumulo_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {total}')
            out.append(f"cumulo_http_request_duration_seconds_sum{{{labels}}} {self.sums[(method, route)]:.6f}")
            out.append(f"cumulo_http_request_duration_seconds_count{{{labels}}} {total}")
        return "\n".join(out) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def install(app: FastAPI, metrics: Metrics) -> None:
    """``GET /metrics`` for administrators; ``app.state.metrics`` for a separate listener."""
    app.state.metrics = metrics

    @app.get("/metrics", include_in_schema=False)
    async def prometheus(_admin: AdminDep) -> PlainTextResponse:
        return PlainTextResponse(await metrics.render_all(), media_type=CONTENT_TYPE)


def metrics_app(metrics: Metrics) -> ASGIApp:
    """A bare ASGI app answering ``GET /metrics`` (and 404 for anything else), without auth."""
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        found = scope["path"] == "/metrics" and scope["method"] in ("GET", "HEAD")
        body = (await metrics.render_all()).encode() if found else b"not found\n"
        await send({"type": "http.response.start", "status": 200 if found else 404,
                    "headers": [(b"content-type", CONTENT_TYPE.encode() if found else b"text/plain"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return app
