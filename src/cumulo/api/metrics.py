"""Prometheus metrics: request counts and latency histograms by route and status."""

from __future__ import annotations

import bisect
from collections import defaultdict

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = defaultdict(int)
        self.hist: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(BUCKETS) + 1))
        self.sums: dict[tuple[str, str], float] = defaultdict(float)

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
