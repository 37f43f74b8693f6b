"""Which addresses a user-chosen URL may reach: the outbound (SSRF) guard.

Any service that fetches or connects to an address a user chose (webhooks, cron targets, load
balancer or gateway route targets, ...) must refuse destinations inside the platform: loopback,
every address of this host (all interfaces), the networks of the host's internal interfaces
(Docker bridges, VPC bridges), link-local and cloud-metadata addresses, private ranges (RFC 1918,
CGNAT 100.64.0.0/10, IPv6 ULA fc00::/7), multicast, unspecified and reserved ranges, and IPv4
addresses hidden in IPv6 forms (``::ffff:127.0.0.1``, 6to4, NAT64, IPv4-compatible). The operator
may open ranges with ``CUMULO_OUTBOUND_ALLOW`` (comma-separated CIDRs, e.g. a LAN with receivers).

How to use it:

- ``forbidden(ip)`` -> a reason string when the address is refused (ignoring the allow list), else
  ``None``. Cheap; use it to vet an address you already have (e.g. a route target's IP).
- ``check_address(ip, allow)`` raises ``BlockedDestination`` (a 400 ``InvalidInput``) unless the
  address is acceptable or inside an allowed range.
- ``await check_url(url, allow)`` checks the URL's syntax (http/https, no credentials) and every
  address its host resolves to; raises ``InvalidInput``/``BlockedDestination``. Call it when a user
  saves a URL, so a bad one is a 400 at once.
- ``allow_list(settings)`` (or ``parse_allow(text)``) gives the operator's allowed networks.
- Checking when the URL is saved is not enough (DNS can change: rebinding). Make the request with
  ``cumulo.drivers.http.pooled_client(platform)`` (or ``guarded_client(...)`` here): its transport
  resolves the name, vets every address and dials the vetted one at connect time, on every
  connection and every redirect hop, keeping the Host header and TLS SNI of the original name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from cumulo.core.errors import InvalidInput
from cumulo.drivers.network.host import proc_text, read_fib_trie, read_routes

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges refused whatever the host looks like, with the reason given to the user.
_REFUSED: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(cidr), reason) for cidr, reason in (
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "link-local (cloud metadata range)"),
        ("10.0.0.0/8", "a private address (RFC 1918)"),
        ("172.16.0.0/12", "a private address (RFC 1918)"),
        ("192.168.0.0/16", "a private address (RFC 1918)"),
        ("100.64.0.0/10", "a carrier-grade NAT address (100.64.0.0/10)"),
        ("192.0.0.0/24", "an IETF protocol address (192.0.0.0/24)"),
        ("198.18.0.0/15", "a benchmarking address (198.18.0.0/15)"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "the unspecified address"),
        ("::1/128", "a loopback address"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "a site-local address"),
        ("fc00::/7", "a private address (unique local, fc00::/7)"),
        ("ff00::/8", "a multicast address"),
        ("100::/64", "a discard-only address"),
    ))
# IPv6 forms that carry an IPv4 address in their low 32 bits (besides ::ffff:0:0/96 and 6to4).
_EMBEDDING = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96"))
_HOST_TTL = 1.0  # seconds a snapshot of the host's addresses and routes is reused


class BlockedDestination(InvalidInput):
    code = "BLOCKED_DESTINATION"


# --- the host's own addresses and internal networks -------------------------------------------

def _read(name: str) -> list[list[str]]:
    return [line.split() for line in proc_text(name).splitlines()]


def _scan_host() -> tuple[frozenset[IP], tuple[Network, ...]]:
    """(every address of every interface, networks reached directly through a non-uplink interface).

    An uplink is an interface carrying a default route: its neighbours are the outside world (and
    already refused when private). Every other directly connected network (docker0, br-*, VPC
    bridges, veths) is inside the host.
    """
    own: set[IP] = {net.network_address for net, kind in read_fib_trie(proc_text("net/fib_trie"))
                    if kind == "LOCAL" and net.prefixlen == 32}
    for words in _read("net/if_inet6"):
        if words and len(words[0]) == 32:
            own.add(ipaddress.IPv6Address(bytes.fromhex(words[0])))
    uplinks: set[str] = set()
    routes: list[tuple[str, Network]] = []
    for dev, net, gateway in read_routes(proc_text("net/route")):
        if net.prefixlen == 0:
            uplinks.add(dev)
        elif int(gateway) == 0:
            routes.append((dev, net))
    for words in _read("net/ipv6_route"):
        if len(words) < 10 or len(words[0]) != 32:
            continue
        prefix = int(words[1], 16)
        if prefix == 0:
            uplinks.add(words[9])
        elif int(words[4], 16) == 0 and words[9] != "lo":
            net6 = ipaddress.IPv6Network((int(words[0], 16), prefix), strict=False)
            if not net6.is_link_local and not net6.is_multicast and prefix < 128:
                routes.append((words[9], net6))
    internal = tuple(dict.fromkeys(net for dev, net in routes if dev not in uplinks and dev != "lo"))
    return frozenset(own), internal


_host_cache: tuple[float, tuple[frozenset[IP], tuple[Network, ...]]] | None = None


def host_networks() -> tuple[frozenset[IP], tuple[Network, ...]]:
    """The host's own addresses and internal networks (re-read at most once a second)."""
    global _host_cache
    now = time.monotonic()
    if _host_cache is None or now - _host_cache[0] > _HOST_TTL:
        _host_cache = (now, _scan_host())
    return _host_cache[1]


# --- the checks --------------------------------------------------------------------------------

def _embedded(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv6 one (mapped, 6to4, NAT64, IPv4-compatible), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _EMBEDDING) and int(ip) & 0xFFFFFFFF:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden(ip: IP | str) -> str | None:
    """Why ``ip`` must not be reached from a user-chosen URL, or ``None`` when it may be.

    Ignores the operator's allow list (see ``check_address``). Looks at the static ranges and at
    the host's own addresses and internal networks (a snapshot refreshed at most once a second).
    """
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    inner = _embedded(address)
    if inner is not None:
        reason = forbidden(inner)
        return f"an IPv6 form of {inner}, {reason}" if reason else None
    for net, reason in _REFUSED:
        if address.version == net.version and address in net:
            return reason
    own, internal = host_networks()
    if address in own:
        return "an address of this host"
    if any(address.version == net.version and address in net for net in internal):
        return "on a network internal to this host (Docker bridge or VPC)"
    if not address.is_global:
        return "not a public address"
    return None


def allowed(ip: IP, allow: Iterable[Network]) -> bool:
    inner = _embedded(ip)
    return any((ip.version == net.version and ip in net) or
               (inner is not None and net.version == 4 and inner in net) for net in allow)


def check_address(ip: IP | str, allow: Iterable[Network] = (), *, port: int | None = None,
                  own_ports: Collection[int] = ()) -> None:
    """Raise ``BlockedDestination`` (400) unless ``ip`` may be reached.

    ``own_ports``: Cumulo's own API/S3 ports, refused on this host's addresses even when an allowed
    range covers them.
    """
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if port is not None and port in own_ports:
        own, _ = host_networks()
        plain = _embedded(address) or address
        if plain.is_loopback or plain in own or address in own:
            raise BlockedDestination(f"{address}:{port} is Cumulo's own API or S3 endpoint and is refused")
    if allowed(address, allow):
        return
    reason = forbidden(address)
    if reason:
        raise BlockedDestination(f"address {address} is {reason} and is refused "
                                 "(an operator can allow a range with CUMULO_OUTBOUND_ALLOW)")


def parse_allow(text: str | None) -> tuple[Network, ...]:
    """'10.1.0.0/16, 192.168.5.7' -> networks; raises ValueError naming a bad entry."""
    nets: list[Network] = []
    for part in (text or "").split(","):
        part = part.strip()
        if part:
            try:
                nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"CUMULO_OUTBOUND_ALLOW: {part!r} is not a CIDR such as 10.1.0.0/16") from None
    return tuple(nets)


def allow_list(settings: Any) -> tuple[Network, ...]:
    return parse_allow(getattr(settings, "outbound_allow", None))


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


async def resolve(host: str, port: int, allow: Sequence[Network] = (), *,
                  own_ports: Collection[int] = ()) -> list[IP]:
    """Every address ``host`` resolves to, each vetted; raises if any one is refused."""
    host = host.strip("[]")
    try:
        addresses: list[IP] = [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise InvalidInput(f"cannot resolve host '{host}': {exc}") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(i[4][0]).split("%")[0]) for i in infos))
    if not addresses:
        raise InvalidInput(f"host '{host}' has no address")
    for ip in addresses:
        check_address(ip, allow, port=port, own_ports=own_ports)
    return addresses


async def check_url(url: str, allow: Sequence[Network] = (), *, own_ports: Collection[int] = ()) -> None:
    """Raise ``InvalidInput`` (bad URL, unknown host) or ``BlockedDestination`` (refused address)."""
    _scheme, host, port = check_syntax(url)
    await resolve(host, port, allow, own_ports=own_ports)


# --- connect-time enforcement --------------------------------------------------------------------

class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that resolves, vets and dials the vetted address itself.

    httpcore still passes the original host name to TLS (SNI and certificate check) and httpx
    sends it as the Host header, so only the TCP destination is pinned.
    """

    def __init__(self, allow: Sequence[Network], own_ports: Collection[int]) -> None:
        self.allow = tuple(allow)
        self.own_ports = frozenset(own_ports)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port, self.allow, own_ports=self.own_ports)
        error: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(str(ip), port, timeout=timeout,
                                                     local_address=local_address, socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise BlockedDestination("unix sockets are not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(allow: Sequence[Network] = (), *, own_ports: Collection[int] = (),
                   max_connections: int = 64) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every connection goes through the guard (no proxies, no env)."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx has no public hook for the network backend: swap in a pool built with ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False), max_connections=max_connections,
        max_keepalive_connections=min(20, max_connections), keepalive_expiry=5.0,
        network_backend=GuardedBackend(allow, own_ports))
    return httpx.AsyncClient(transport=transport, trust_env=False)
