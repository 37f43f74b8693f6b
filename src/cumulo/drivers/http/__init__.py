"""Outbound HTTP to user-given URLs (webhooks, cron targets), behind an SSRF guard.

The guard allows loopback and private addresses (self-hosted receivers live there) but refuses:
link-local and metadata addresses (169.254.0.0/16, fe80::/10), unspecified/multicast/reserved
addresses, and Cumulo's own API and S3 ports on this machine. It checks every address the name
resolves to, and the request then connects to the checked address (the Host header and TLS SNI
keep the original name), so a DNS answer that changes between check and connect cannot slip by.
Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx

from cumulo.core.errors import InvalidInput

EXCERPT_BYTES = 1024
_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedDestination(InvalidInput):
    code = "BLOCKED_DESTINATION"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    latency_ms: int
    excerpt: str
    blocked: bool = False  # the SSRF guard refused the destination

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


@lru_cache(maxsize=1)
def _own_addresses() -> frozenset[IP]:
    found: set[IP] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            found.add(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
    except OSError:
        pass
    return frozenset(found)


def pooled_client(platform: Any) -> httpx.AsyncClient:
    """One pooled client per process for outbound calls (closed with the platform)."""
    if "http.outbound" not in platform.extras:
        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=64), trust_env=False)
        platform.extras["http.outbound"] = client
        platform.closers.append(client.aclose)
    return platform.extras["http.outbound"]  # type: ignore[no-any-return]


def check_syntax(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or a 400 saying what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"invalid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("URL must start with http:// or https://")
    if not parts.hostname:
        raise InvalidInput("URL has no host")
    if parts.username or parts.password:
        raise InvalidInput("URL must not carry credentials; send them in headers")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_address(ip: IP, port: int, own_ports: set[int]) -> None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _LINK_LOCAL):
        raise BlockedDestination(f"address {ip} is link-local (cloud metadata range) and is refused")
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        raise BlockedDestination(f"address {ip} is not a unicast destination")
    if port in own_ports and (ip.is_loopback or ip in _own_addresses()):
        raise BlockedDestination(f"{ip}:{port} is Cumulo's own API or S3 endpoint and is refused")


async def resolve(url: str, own_ports: set[int]) -> tuple[str, str, int, IP]:
    """Check the URL and every address its host resolves to; return (scheme, host, port, address)."""
    scheme, host, port = check_syntax(url)
    try:
        literal = ipaddress.ip_address(host)
        addresses: list[IP] = [literal]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise InvalidInput(f"cannot resolve host '{host}': {exc}") from None
        addresses = [ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos]
    if not addresses:
        raise InvalidInput(f"host '{host}' has no address")
    for ip in addresses:
        check_address(ip, port, own_ports)
    return scheme, host, port, addresses[0]


async def request(client: httpx.AsyncClient, method: str, url: str, *, own_ports: set[int],
                  headers: dict[str, str] | None = None, content: bytes | None = None,
                  timeout: float = 10.0) -> Outcome:
    """One guarded request; never raises for network trouble (the outcome says what happened)."""
    start = time.monotonic()

    def done(status: int | None, error: str | None, excerpt: str = "", blocked: bool = False) -> Outcome:
        return Outcome(status, error, int((time.monotonic() - start) * 1000), excerpt, blocked)

    try:
        scheme, host, port, ip = await resolve(url, own_ports)
    except BlockedDestination as exc:
        return done(None, exc.message, blocked=True)
    except InvalidInput as exc:
        return done(None, exc.message)
    target = httpx.URL(url).copy_with(host=str(ip))
    default_port = 443 if scheme == "https" else 80
    sent = {"Host": host if port == default_port else f"{host}:{port}", **(headers or {})}
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    try:
        async with client.stream(method, target, headers=sent, content=content, timeout=timeout,
                                 extensions=extensions, follow_redirects=False) as response:
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= EXCERPT_BYTES:
                    break
            return done(response.status_code, None, body[:EXCERPT_BYTES].decode("utf-8", "replace"))
    except httpx.TimeoutException:
        return done(None, f"timed out after {timeout:g} s")
    except httpx.HTTPError as exc:
        return done(None, f"{exc.__class__.__name__}: {exc}"[:500])
