"""VPCs as Docker bridge networks (official Docker SDK; every call runs in a worker thread).

Guarantees:
- ``create`` either creates the network or raises (``Conflict`` when its block overlaps a network
  Docker already has, ``Unavailable`` when Docker does not answer); it never leaves half a network.
- ``remove`` succeeds if the network is already gone; it raises ``Conflict`` while containers use it.
- Containers on one user-defined bridge reach each other by name; Docker's isolation rules drop
  traffic between two different bridges, so two VPCs cannot talk to each other.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from docker.errors import NotFound
from docker.types import IPAMConfig, IPAMPool

from cumulo.drivers.dockerclient import LazyDocker


class DockerNetworks(LazyDocker):
    """Errors: ``cumulo.drivers.dockerclient.translate`` (an overlapping block or a name taken is 409,
    a network with containers is 409 "containers are still attached")."""

    async def create(self, name: str, cidr: str, labels: dict[str, str]) -> str:
        net = ipaddress.ip_network(cidr)
        gateway = str(net.network_address + 1)
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=cidr, gateway=gateway)])

        def make() -> str:
            network = self.client.networks.create(name, driver="bridge", ipam=ipam, labels=labels,
                                                  check_duplicate=True)
            return str(network.id)
        return await self.in_thread(f"creating network {name}", make)

    async def remove(self, name: str) -> None:
        def rm() -> None:
            try:
                self.client.networks.get(name).remove()
            except NotFound:
                return
        await self.in_thread(f"removing network {name}", rm)

    async def exists(self, name: str) -> bool:
        def get() -> bool:
            try:
                self.client.networks.get(name)
                return True
            except NotFound:
                return False
        return await self.in_thread(f"inspecting network {name}", get)

    async def occupied_blocks(self) -> list[ipaddress.IPv4Network]:
        """Every IPv4 block any Docker network on this engine uses (ours or not)."""
        def blocks() -> list[ipaddress.IPv4Network]:
            found = []
            for n in self.client.api.networks():
                for cfg in ((n.get("IPAM") or {}).get("Config") or []):
                    try:
                        net = ipaddress.ip_network(cfg.get("Subnet", ""), strict=False)
                    except ValueError:
                        continue
                    if isinstance(net, ipaddress.IPv4Network):
                        found.append(net)
            return found
        return await self.in_thread("listing networks", blocks)

    async def addresses_in_use(self, name: str) -> set[str]:
        """IPv4 addresses of the containers attached to a network (empty if it does not exist)."""
        def used() -> set[str]:
            try:
                attrs: dict[str, Any] = self.client.api.inspect_network(name)
            except NotFound:
                return set()
            return {c.get("IPv4Address", "").split("/")[0] for c in (attrs.get("Containers") or {}).values()} - {""}
        return await self.in_thread(f"inspecting network {name}", used)

    async def labelled(self, labels: dict[str, str]) -> dict[str, dict[str, str]]:
        """Networks carrying all these labels: name -> labels."""
        def find() -> dict[str, dict[str, str]]:
            filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
            return {n["Name"]: dict(n.get("Labels") or {}) for n in self.client.api.networks(filters=filters)}
        return await self.in_thread("listing networks", find)
