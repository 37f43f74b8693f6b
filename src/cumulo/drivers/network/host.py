"""The IPv4 networks this host already uses: interface addresses, routes (every routing table) and
the loopback. A VPC block overlapping one of them would shadow a real network of the host (its LAN,
a VPN, the metadata range...), so the network service refuses such blocks.

Read from ``/proc/net/fib_trie`` (every table's prefixes and the host's own addresses) and
``/proc/net/route`` (the main table), in the network namespace of this process. Plain file reads:
cheap enough to do on every VPC creation, so a route added a minute ago counts.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
_LEAF = re.compile(r"\|--\s+(\d+\.\d+\.\d+\.\d+)")
_PREFIX = re.compile(r"^\s*/(\d+)\s+\S+\s+(\w+)")


def proc_text(name: str, proc: Path = Path("/proc")) -> str:
    """A ``/proc`` file's text (``net/route``...), or "" when it cannot be read."""
    try:
        return (proc / name).read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""


def read_fib_trie(text: str) -> list[tuple[ipaddress.IPv4Network, str]]:
    """(prefix, kind) of ``/proc/net/fib_trie``: a leaf ``|-- 10.1.2.0`` followed by ``/24 link
    UNICAST`` is the route 10.1.2.0/24 (kind ``UNICAST``); ``/32 host LOCAL`` marks an address of the
    host itself (kind ``LOCAL``). Default routes (``/0``) and broadcast entries are left out."""
    found: list[tuple[ipaddress.IPv4Network, str]] = []
    leaf: str | None = None
    for line in text.splitlines():
        if match := _LEAF.search(line):
            leaf = match.group(1)
            continue
        match = _PREFIX.match(line)
        if leaf is None or match is None:
            continue
        prefix, kind = int(match.group(1)), match.group(2)
        if prefix == 0 or kind not in ("UNICAST", "LOCAL"):
            continue
        try:
            found.append((ipaddress.IPv4Network(f"{leaf}/{prefix}", strict=False), kind))
        except ValueError:
            continue
    return found


def read_routes(text: str) -> list[tuple[str, ipaddress.IPv4Network, ipaddress.IPv4Address]]:
    """(device, destination, gateway) of every row of ``/proc/net/route`` (hex, host byte order on
    little-endian machines), the default route (``0.0.0.0/0``) included."""
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            dest, gateway, mask = (ipaddress.IPv4Address(bytes.fromhex(fields[i])[::-1]) for i in (1, 2, 7))
            found.append((fields[0], ipaddress.IPv4Network(f"{dest}/{mask}", strict=False), gateway))
        except ValueError:
            continue
    return found


def parse_fib_trie(text: str) -> set[ipaddress.IPv4Network]:
    """The prefixes of ``/proc/net/fib_trie`` (routes and the host's own /32 addresses)."""
    return {net for net, _kind in read_fib_trie(text)}


def parse_route(text: str) -> set[ipaddress.IPv4Network]:
    """Destinations of ``/proc/net/route``; the default route is left out."""
    return {net for _dev, net, _gateway in read_routes(text) if net.prefixlen}


def host_networks(proc: Path = Path("/proc")) -> list[ipaddress.IPv4Network]:
    """Every IPv4 network of this host (routes, interface addresses, loopback), smallest last."""
    found = {LOOPBACK} | parse_fib_trie(proc_text("net/fib_trie", proc)) | parse_route(proc_text("net/route", proc))
    return sorted(found, key=lambda n: (n.prefixlen, int(n.network_address)))
