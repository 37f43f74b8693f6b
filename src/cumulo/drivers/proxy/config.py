"""The desired state of the data plane, independent of the proxy engine.

Frozen dataclasses only: the gateway builds one ``ProxyConfig`` from the database (its own routes
plus what the route providers contribute, see ``cumulo.services.gateway.providers``) and hands it to
``ProxyDriver.apply``. Only ``drivers/proxy/caddy.py`` turns it into Caddy's JSON.

Matching rules the driver guarantees, whatever the order of ``ProxyConfig.routes``:

- a route matches a request when the request's host is one of ``hostnames`` (or ``hostnames`` is
  empty: any host), the method is in ``methods`` (or ``methods`` is empty), and the path equals
  ``prefix`` or starts with ``prefix + "/"`` (segment boundary: ``/api`` matches ``/api`` and
  ``/api/x``, never ``/apiary``); ``prefix="/"`` matches every path;
- among matching routes the one with a hostname beats one without, then the longest ``prefix``
  wins, then one limited to some ``methods``, then the route ``id`` breaks ties (deterministic);
- routes with ``port`` set are served on that dedicated plain-HTTP listener only (a load balancer
  on its own port); the others on the shared public HTTP and HTTPS ports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALGORITHMS = ("round_robin", "least_conn", "ip_hash", "random", "first")


@dataclass(frozen=True)
class Upstream:
    """One backend: ``dial`` is ``"host:port"`` (an instance's VPC address, e.g. ``"10.20.0.3:80"``).
    ``weight`` 0-999 (0: kept in the config but never chosen); weights are honoured by
    ``round_robin`` (weighted round robin) and ignored by the other algorithms."""

    dial: str
    weight: int = 1


@dataclass(frozen=True)
class HealthCheck:
    """Active health check run by the proxy itself against every upstream of a pool.

    ``expect_status`` is a code (``"200"``) or a class (``"2xx"``); the proxy marks an upstream
    down after ``unhealthy_threshold`` consecutive failures and up after ``healthy_threshold``
    consecutive passes. A control plane that runs its own state machine (ALB thresholds, fail-open)
    may leave ``Pool.health`` as ``None`` and push only the upstreams it wants served."""

    path: str = "/"
    interval_seconds: float = 30
    timeout_seconds: float = 5
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    expect_status: str = "2xx"
    port: int | None = None  # None: the upstream's own port


@dataclass(frozen=True)
class Pool:
    """Where a route sends its requests.

    - ``algorithm``: one of ``ALGORITHMS``.
    - ``sticky_cookie``: a cookie name; when set, a client keeps its upstream through that cookie
      (the algorithm still picks the first one).
    - ``retries``: how many other upstreams are tried when dialing one fails (connection errors
      only, for every method: nothing reached the upstream), within ``try_seconds``.
    - ``passive_fail_seconds``: how long an upstream that failed a request (connection error or
      a 5xx listed in ``passive_unhealthy_status``) stays out of rotation; 0 turns passive checks off.
    - ``tls``: talk HTTPS to the upstreams (``tls_server_name`` for SNI/verification).
    - An empty ``upstreams`` tuple answers 503 (``no upstream``)."""

    upstreams: tuple[Upstream, ...]
    algorithm: str = "round_robin"
    health: HealthCheck | None = None
    sticky_cookie: str | None = None
    retries: int = 2
    try_seconds: float = 5
    passive_fail_seconds: float = 10
    passive_unhealthy_status: tuple[int, ...] = ()
    tls: bool = False
    tls_server_name: str | None = None


@dataclass(frozen=True)
class Route:
    """One routing rule (see the module docstring for matching).

    - ``id`` unique across the whole config (prefix it with the provider's kind, e.g. ``"lb-..."``);
      ``owner`` the user id (labels, metrics).
    - ``strip_prefix``: remove ``prefix`` from the path before proxying (``/api/v1/x`` -> ``/x``).
    - ``upstream_path``: a base path prepended after stripping (a URL target's path).
    - ``timeout_seconds``: the whole upstream response must start within this time (504 otherwise).
    - ``preserve_host``: send the client's Host header upstream; otherwise ``upstream_host`` (a URL
      target's host) or the dialled address.
    - ``check``: ask the gateway's check endpoint before proxying (API key and/or rate limit,
      see ``ProxyConfig.check_dial``); the request is refused with the endpoint's answer otherwise.
    - ``drop_headers``: request headers removed before proxying (e.g. the caller's API key).
    - ``metrics_name``: a label for per-route metrics (``None``: ``id``)."""

    id: str
    owner: str
    pool: Pool
    hostnames: tuple[str, ...] = ()
    port: int | None = None
    prefix: str = "/"
    strip_prefix: bool = False
    upstream_path: str = ""
    methods: tuple[str, ...] = ()
    timeout_seconds: float = 60
    preserve_host: bool = False
    upstream_host: str | None = None
    check: bool = False
    drop_headers: tuple[str, ...] = ()
    metrics_name: str | None = None


@dataclass(frozen=True)
class ProxyConfig:
    """The whole desired data plane (applied at once, idempotently).

    - ``http_port`` / ``https_port``: the shared public listeners (``https_port`` 0: no HTTPS).
    - ``listen_host``: the address the public listeners bind (``""``: all addresses).
    - ``check_dial``: ``"host:port"`` of the gateway's check endpoint (routes with ``check``);
      ``check_try_seconds``: how long a request keeps dialing it while it does not answer (Cumulo
      restarting): the request waits for the check instead of getting a 502.
    - ``acme_email``: when set, hostnames outside ``internal_suffixes`` get publicly trusted
      certificates through ACME; otherwise every HTTPS hostname uses the internal CA.
    - ``grace_seconds``: how long a reload waits for in-flight requests of the old config;
      ``stream_close_delay_seconds``: how long WebSockets/streams opened under the old config are kept
      open after a reload."""

    routes: tuple[Route, ...] = ()
    http_port: int = 8080
    https_port: int = 8443
    listen_host: str = ""
    check_dial: str | None = None
    check_try_seconds: float = 30
    acme_email: str | None = None
    internal_suffixes: tuple[str, ...] = field(default=(".localhost", ".local", ".internal", ".test"))
    grace_seconds: float = 30
    stream_close_delay_seconds: float = 3600
