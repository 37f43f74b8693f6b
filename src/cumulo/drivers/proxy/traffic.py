"""Per-route traffic from Caddy's Prometheus metrics (the engine's label names live here only).

Caddy (with ``metrics.per_host``) labels ``caddy_http_request_duration_seconds`` by ``server``
(``http``, ``https``, ``port-<n>`` for a dedicated listener, see ``caddy.render``), ``host`` (hosts
the config matches; others are ``_other``), ``handler``, ``code`` and ``method``. A route is
identified by its hostnames on the shared servers or by its own port's server.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

DURATION = "caddy_http_request_duration_seconds"
HANDLERS = ("reverse_proxy", "static_response")
_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class Traffic:
    requests: int = 0
    by_class: dict[str, int] = field(default_factory=lambda: {f"{c}xx": 0 for c in range(1, 6)})
    buckets: dict[str, int] = field(default_factory=dict)  # upper bound -> cumulative count
    sum_seconds: float = 0.0


def _bound(value: str) -> float:
    return float("inf") if value == "+Inf" else float(value)


def traffic(text: str, *, hostnames: tuple[str, ...] = (), port: int | None = None) -> Traffic:
    """The requests Caddy answered for one route: on ``port``'s own server, or for ``hostnames``."""
    out = Traffic()
    buckets: dict[str, int] = defaultdict(int)
    wanted_server = f"port-{port}" if port is not None else None
    hosts = {h.lower() for h in hostnames}
    for line in text.splitlines():
        if not line.startswith(DURATION):
            continue
        m = _LINE.match(line)
        if m is None:
            continue
        name, raw, value = m.groups()
        labels = dict(_LABEL.findall(raw or ""))
        if labels.get("handler") not in HANDLERS:
            continue
        if wanted_server is not None:
            if labels.get("server") != wanted_server:
                continue
        elif labels.get("host", "").lower() not in hosts or labels.get("server", "").startswith("port-"):
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        if name == f"{DURATION}_count":
            out.requests += int(number)
            code = labels.get("code", "")
            key = f"{code[:1]}xx" if code[:1].isdigit() else "other"
            out.by_class[key] = out.by_class.get(key, 0) + int(number)
        elif name == f"{DURATION}_sum":
            out.sum_seconds += number
        elif name == f"{DURATION}_bucket" and "le" in labels:
            buckets[labels["le"]] += int(number)
    out.buckets = dict(sorted(buckets.items(), key=lambda kv: _bound(kv[0])))
    return out
