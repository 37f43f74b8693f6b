"""Route targets: ``https://host[:port][/base]``, ``instance:<id>:<port>`` or ``<provider>:<ref>``
(e.g. ``loadbalancer:<id>``, resolved through ``providers``), checked when a route is saved and
turned into a ``Pool`` on every push.

URL targets go through the outbound guard (``cumulo.drivers.http.guard``): loopback, this host's
addresses, Docker/VPC networks (every tenant's, the caller's own included: use ``instance:`` for
those), private, link-local and metadata addresses, and Cumulo's own ports are refused with 400.
At push time the name is resolved and vetted again and the vetted address is what the proxy
dials (the URL's host stays the Host header and TLS server name), so DNS rebinding cannot turn a
route towards an internal address.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import CumuloError, InvalidInput, not_found
from cumulo.drivers.http import guard
from cumulo.drivers.proxy.config import Pool, Upstream
from cumulo.platform import Platform
from cumulo.services.compute import service as compute
from cumulo.services.gateway import providers

log = logging.getLogger("cumulo.gateway")


@dataclass(frozen=True)
class Resolved:
    pool: Pool
    upstream_path: str = ""
    upstream_host: str | None = None


def own_ports(platform: Platform) -> set[int]:
    s = platform.settings
    return {s.port, s.s3_port, s.proxy_http_port, s.proxy_https_port} - {0}


def _url_parts(url: str) -> tuple[str, str, int, str]:
    scheme, host, port = guard.check_syntax(url)
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise InvalidInput("a URL target may not carry a query or fragment")
    return scheme, host, port, parts.path.rstrip("/")


async def normalize(platform: Platform, session: AsyncSession, user_id: str, target: str) -> str:
    """The stored form of ``target`` for ``user_id``; 400 for a malformed or forbidden target, 404 for
    an instance or provider resource that is not the caller's."""
    target = target.strip()
    if target.startswith(("http://", "https://")):
        _url_parts(target)
        await guard.check_url(target, guard.allow_list(platform.settings), own_ports=own_ports(platform))
        return target
    kind, _, rest = target.partition(":")
    if kind == "instance":
        ref, _, port_text = rest.rpartition(":")
        if not ref or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise InvalidInput("instance target must look like instance:<id>:<port> (port 1-65535)")
        inst = await compute.get_instance(session, user_id, ref)
        return f"instance:{inst.id}:{int(port_text)}"
    provider = providers.get(kind) if kind else None
    if provider is None or provider.pool is None:
        raise InvalidInput("target must be a URL (http:// or https://), instance:<id>:<port>"
                           + "".join(f" or {p.name}:<id>" for p in providers.registered() if p.pool))
    if await providers.resolve_pool(session, platform, user_id, target) is None:
        raise not_found(kind, rest)
    return target


async def resolve(platform: Platform, session: AsyncSession, user_id: str, target: str) -> Resolved:
    """What the stored ``target`` stands for now; an empty pool (the route answers 503) when the
    instance is not running, the provider's resource is gone or the URL no longer passes the guard."""
    empty = Resolved(Pool(upstreams=()))
    if target.startswith(("http://", "https://")):
        scheme, host, port, path = _url_parts(target)
        try:
            addresses = await guard.resolve(host, port, guard.allow_list(platform.settings),
                                            own_ports=own_ports(platform))
        except CumuloError as exc:
            log.warning("route target %s refused at push: %s", host, exc.message)
            return empty
        ip = addresses[0]
        dial = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
        default = 443 if scheme == "https" else 80
        host_header = host if port == default else f"{host}:{port}"
        return Resolved(Pool(upstreams=(Upstream(dial),), tls=scheme == "https", tls_server_name=host),
                        upstream_path=path, upstream_host=host_header)
    kind, _, rest = target.partition(":")
    if kind == "instance":
        ref, _, port_text = rest.rpartition(":")
        try:
            inst = await compute.get_instance(session, user_id, ref)
        except CumuloError:
            return empty
        address = inst.ip_address or inst.ipv4_address
        if inst.status != "RUNNING" or not address:
            return empty
        return Resolved(Pool(upstreams=(Upstream(f"{address}:{int(port_text)}"),)))
    pool = await providers.resolve_pool(session, platform, user_id, target)
    return Resolved(pool) if pool is not None else empty
