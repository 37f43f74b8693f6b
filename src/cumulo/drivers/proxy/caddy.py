"""Caddy as the data plane: ``ProxyConfig`` -> Caddy JSON, pushed whole through the admin API.

The only module that knows Caddy's JSON. ``render`` is a pure function; ``CaddyDriver.apply``
reads the running config and its ETag (``GET /config/``), does nothing when Caddy already serves
exactly that JSON, and otherwise replaces the whole config with ``POST /config/`` and
``If-Match: <etag>`` (a 412 means someone changed it in between: read again and retry). Caddy's
``POST /load`` would do the same reload but ignores ``If-Match`` (checked on Caddy 2.11: a stale
ETag is accepted), so the root-path form is used to keep the optimistic-concurrency check.

A reload starts the new servers on the same listeners before the old ones stop: nothing is
refused. In-flight requests of the old config get ``grace_period``; proxied WebSockets and
streams are kept open ``stream_close_delay`` after a reload instead of being cut at once.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from cumulo.core.errors import Unavailable
from cumulo.drivers.proxy.config import Pool, ProxyConfig, Route

NS = 1_000_000_000
_POLICIES = {"round_robin": "round_robin", "least_conn": "least_conn", "ip_hash": "client_ip_hash",
             "random": "random", "first": "first"}
NOT_FOUND_BODY = '{"error":{"code":"NOT_FOUND","message":"no route matches this host and path"}}'
NO_UPSTREAM_BODY = '{"error":{"code":"UNAVAILABLE","message":"no upstream available for this route"}}'


def _ns(seconds: float) -> int:
    return round(seconds * NS)


def _prefix(route: Route) -> str:
    return route.prefix.rstrip("/") or "/"


def order(routes: tuple[Route, ...] | list[Route]) -> list[Route]:
    """Most specific first: routes with a hostname, then the longest prefix, then those limited to some
    methods, then the id."""
    return sorted(routes, key=lambda r: (0 if r.hostnames else 1, -len(_prefix(r)), 0 if r.methods else 1, r.id))


def _status(expect: str) -> int:
    text = expect.strip().lower()
    if len(text) == 3 and text.endswith("xx") and text[0].isdigit():
        return int(text[0])
    return int(text)


def _selection(pool: Pool, upstreams: list[Any]) -> dict[str, Any]:
    weights = [u.weight for u in upstreams]
    if pool.algorithm == "round_robin" and any(w != 1 for w in weights):
        policy: dict[str, Any] = {"policy": "weighted_round_robin", "weights": weights}
    else:
        policy = {"policy": _POLICIES.get(pool.algorithm, "round_robin")}
    if pool.sticky_cookie:
        return {"policy": "cookie", "name": pool.sticky_cookie, "fallback": policy}
    return policy


def _health(pool: Pool) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    if pool.health is not None:
        h = pool.health
        active: dict[str, Any] = {"uri": h.path, "interval": _ns(h.interval_seconds), "timeout": _ns(h.timeout_seconds),
                                  "passes": h.healthy_threshold, "fails": h.unhealthy_threshold,
                                  "expect_status": _status(h.expect_status)}
        if h.port:
            active["port"] = h.port
        checks["active"] = active
    if pool.passive_fail_seconds > 0:
        passive: dict[str, Any] = {"fail_duration": _ns(pool.passive_fail_seconds), "max_fails": 1}
        if pool.passive_unhealthy_status:
            passive["unhealthy_status"] = list(pool.passive_unhealthy_status)
        checks["passive"] = passive
    return checks


def _proxy(route: Route, config: ProxyConfig) -> dict[str, Any]:
    pool = route.pool
    upstreams = [u for u in pool.upstreams if u.weight > 0]
    if not upstreams:
        return {"handler": "static_response", "status_code": 503, "body": NO_UPSTREAM_BODY,
                "headers": {"Content-Type": ["application/json"]}}
    transport: dict[str, Any] = {"protocol": "http", "dial_timeout": _ns(3),
                                 "response_header_timeout": _ns(route.timeout_seconds)}
    if pool.tls:
        transport["tls"] = {"server_name": pool.tls_server_name} if pool.tls_server_name else {}
    handler: dict[str, Any] = {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": u.dial} for u in upstreams],
        "load_balancing": {"selection_policy": _selection(pool, upstreams), "retries": pool.retries,
                           "try_duration": _ns(pool.try_seconds), "try_interval": _ns(0.05)},
        "transport": transport,
        "stream_close_delay": _ns(config.stream_close_delay_seconds),
    }
    health = _health(pool)
    if health:
        handler["health_checks"] = health
    request: dict[str, Any] = {}
    if not route.preserve_host:
        request["set"] = {"Host": [route.upstream_host or "{http.reverse_proxy.upstream.hostport}"]}
    if route.drop_headers:
        request["delete"] = list(route.drop_headers)
    if request:
        handler["headers"] = {"request": request}
    return handler


def _check(route: Route, config: ProxyConfig) -> dict[str, Any]:
    """``forward_auth``: ask the gateway's check endpoint; a 2xx lets the request on, anything else
    is the answer the client gets."""
    return {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": config.check_dial}],
        # nothing reached the check when its dial fails, so dialing again is safe for any method
        "load_balancing": {"try_duration": _ns(config.check_try_seconds), "try_interval": _ns(0.1)},
        "rewrite": {"method": "GET", "uri": f"/check/{route.id}"},
        "headers": {"request": {"set": {"X-Forwarded-Method": ["{http.request.method}"],
                                        "X-Forwarded-Uri": ["{http.request.uri}"]}}},
        "handle_response": [{"match": {"status_code": [2]}, "routes": [{"handle": [{"handler": "vars"}]}]}],
    }


def _route(route: Route, config: ProxyConfig) -> dict[str, Any]:
    match: dict[str, Any] = {}
    if route.hostnames:
        match["host"] = list(route.hostnames)
    prefix = _prefix(route)
    if prefix != "/":
        match["path"] = [prefix, prefix + "/*"]
    if route.methods:
        match["method"] = list(route.methods)
    handle: list[dict[str, Any]] = []
    if route.check and config.check_dial:
        handle.append(_check(route, config))
    if route.strip_prefix and prefix != "/":
        handle.append({"handler": "rewrite", "strip_path_prefix": prefix})
    if route.upstream_path.strip("/"):
        base = "/" + route.upstream_path.strip("/")
        handle.append({"handler": "rewrite", "uri": base + "{http.request.uri.path}?{http.request.uri.query}"})
    handle.append(_proxy(route, config))
    out: dict[str, Any] = {"handle": handle, "terminal": True}
    if match:
        out["match"] = [match]
    return out


def _routes(routes: list[Route], config: ProxyConfig) -> list[dict[str, Any]]:
    rendered = [_route(r, config) for r in order(routes)]
    rendered.append({"handle": [{"handler": "static_response", "status_code": 404, "body": NOT_FOUND_BODY,
                                 "headers": {"Content-Type": ["application/json"]}}], "terminal": True})
    return rendered


def _tls(config: ProxyConfig) -> dict[str, Any]:
    internal = {"module": "internal"}
    if not config.acme_email:
        return {"automation": {"policies": [{"issuers": [internal]}]}}
    names = sorted({h for r in config.routes for h in r.hostnames if h.endswith(config.internal_suffixes)})
    policies: list[dict[str, Any]] = [{"subjects": names, "issuers": [internal]}] if names else []
    policies.append({"issuers": [{"module": "acme", "email": config.acme_email}]})
    return {"automation": {"policies": policies}}


def render(config: ProxyConfig, admin_listen: str) -> dict[str, Any]:
    """The complete Caddy JSON for ``config``; ``admin_listen`` is kept (``unix//path`` or host:port)."""
    host = config.listen_host
    shared = [r for r in config.routes if r.port is None]
    servers: dict[str, Any] = {"http": {"listen": [f"{host}:{config.http_port}"], "routes": _routes(shared, config),
                                        "automatic_https": {"disable_redirects": True}}}
    if config.https_port:
        servers["https"] = {"listen": [f"{host}:{config.https_port}"], "routes": _routes(shared, config),
                            "tls_connection_policies": [{}], "automatic_https": {"disable_redirects": True}}
    for port in sorted({r.port for r in config.routes if r.port is not None}):
        own = [r for r in config.routes if r.port == port]
        servers[f"port-{port}"] = {"listen": [f"{host}:{port}"], "routes": _routes(own, config),
                                   "automatic_https": {"disable": True}}
    http: dict[str, Any] = {"http_port": config.http_port, "grace_period": _ns(config.grace_seconds),
                            "servers": servers, "metrics": {"per_host": True}}
    if config.https_port:
        http["https_port"] = config.https_port
    return {
        "admin": {"listen": admin_listen, "config": {"persist": True}},
        "apps": {"http": http, "tls": _tls(config),
                 "pki": {"certificate_authorities": {"local": {"install_trust": False}}}},
    }


class CaddyDriver:
    """Talks to one Caddy's admin API (``admin``: ``unix//path/to/socket`` or ``127.0.0.1:2019``)."""

    def __init__(self, admin: str, *, reload_timeout: float = 120.0):
        self.admin = admin
        self.reload_timeout = reload_timeout
        self._http: httpx.AsyncClient | None = None
        self.pushes = 0  # reloads done by this driver (tests, benchmarks)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            if self.admin.startswith("unix/"):
                transport = httpx.AsyncHTTPTransport(uds=self.admin.removeprefix("unix/"))
                base = "http://caddy-admin"
            else:
                transport = httpx.AsyncHTTPTransport()
                base = f"http://{self.admin}"
            self._http = httpx.AsyncClient(transport=transport, base_url=base, timeout=10.0,
                                           headers={"Host": "caddy-admin"})
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client().request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(f"proxy admin API unreachable: {type(exc).__name__}") from None

    async def alive(self) -> bool:
        try:
            return (await self._client().get("/config/admin", timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            return False

    async def current(self) -> tuple[str, Any]:
        """The running config and its ETag."""
        resp = await self._request("GET", "/config/")
        if resp.status_code != 200:
            raise Unavailable(f"proxy admin API answered {resp.status_code} reading its config")
        return resp.headers.get("etag", ""), resp.json() if resp.content.strip() else None

    async def apply(self, config: ProxyConfig) -> bool:
        desired = render(config, self.admin)
        body = json.dumps(desired, separators=(",", ":"), sort_keys=True)
        for _attempt in range(5):
            etag, running = await self.current()
            if running == desired:
                return False
            resp = await self._request("POST", "/config/", content=body, timeout=self.reload_timeout,
                                       headers={"Content-Type": "application/json", "If-Match": etag})
            if resp.status_code == 412:
                continue
            if resp.status_code != 200:
                raise Unavailable(f"proxy refused the configuration ({resp.status_code}): {resp.text[:500]}")
            self.pushes += 1
            return True
        raise Unavailable("proxy configuration kept changing under the push (If-Match failed 5 times)")

    async def upstreams(self) -> list[dict[str, Any]]:
        resp = await self._request("GET", "/reverse_proxy/upstreams")
        return list(resp.json() or []) if resp.status_code == 200 else []

    async def metrics(self) -> str:
        resp = await self._request("GET", "/metrics")
        return resp.text if resp.status_code == 200 else ""

    async def ca_certificate(self) -> str:
        resp = await self._request("GET", "/pki/ca/local")
        if resp.status_code != 200:
            raise Unavailable("the proxy's internal CA is not ready yet")
        return str(resp.json().get("root_certificate", ""))
