"""A VM's place in its VPC: a small "port" container on the VPC's Docker network holds the VM's
network namespace, and QEMU's tap device lives in it, tied to the container's ``eth0`` by two ``tc``
redirects (every frame in on ``eth0`` goes out on the tap, and back). The guest takes the
container's MAC and IP address, so Docker holds the address (the subnet's, when the network service
chose one; else a free one of the VPC's block, taken from the top, away from Docker's own
bottom-up allocation; Docker refuses a clash), publishes the ports, applies the isolation between
VPCs and answers the VM's name in the VPC's DNS, exactly as for a container.

To keep the container's start off the boot's critical path, QEMU starts at once in a namespace of
its own (``ip netns``: ``cumulo-<folder>``) on a tap made there, while Docker starts the port
container; the tap is then moved into the container's namespace (a tap keeps working across the
move) and the temporary namespace is dropped. QEMU is also moved into the port
container's cgroups, so Docker's statistics of that container are the VM's (the metrics sampler
records them as for a container).

The port container carries ``cumulo.vm-port=<VM name>`` besides the instance's labels; the routed
driver hides it from the instance engine's lists (it is part of the VM, never an instance of its
own)."""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cumulo.core.errors import Unavailable
from cumulo.drivers.compute.base import PortBinding, PortInUse

LABEL_PORT = "cumulo.vm-port"
TAP = "tap0"
IMAGES = ("cumulo/busybox",)  # tried first; else the VM's own image (a catalogue image: present here)
SLEEP = ["sleep", "2147483647"]


class AddressTaken(Unavailable):
    """The chosen address was given to another endpoint between the look and the create."""


@dataclass(frozen=True)
class Placement:
    container: str
    pid: int
    address: str
    prefix: int
    gateway: str
    mac: str
    ports: list[PortBinding]

    def as_meta(self) -> dict[str, Any]:
        return {"container": self.container, "address": self.address, "prefix": self.prefix,
                "gateway": self.gateway, "mac": self.mac, "ports": [[p.host, p.container] for p in self.ports]}


def port_name(vm: str) -> str:
    return f"{vm}-port"


def mac_of(vm: str) -> str:
    """A stable, locally administered unicast MAC for the VM."""
    raw = hashlib.sha256(vm.encode()).digest()[:5]
    return "02:" + ":".join(f"{b:02x}" for b in raw)


@dataclass(frozen=True)
class Lease:
    """Where the guest will sit, known before anything starts."""

    address: str
    prefix: int
    gateway: str
    mac: str


def _sh(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise Unavailable(f"the VM's network could not be set up ({argv[0]} {argv[1]}): {done.stderr.strip()[-300:]}")


def make_netns(name: str) -> str:
    """A fresh namespace holding a tap ``tap0`` for QEMU to open; answers its path."""
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False, timeout=30)
    _sh(["ip", "netns", "add", name])
    try:
        _sh(["ip", "-n", name, "tuntap", "add", "dev", TAP, "mode", "tap"])
    except BaseException:
        drop_netns(name)
        raise
    return f"/run/netns/{name}"


def drop_netns(name: str) -> None:
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False, timeout=30)


def nameservers() -> list[str]:
    """The host's resolvers the guest can reach through the bridge (never a loopback one)."""
    found = []
    with contextlib.suppress(OSError):
        for line in Path("/etc/resolv.conf").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "nameserver":
                with contextlib.suppress(ValueError):
                    if not ipaddress.ip_address(parts[1]).is_loopback and ipaddress.ip_address(parts[1]).version == 4:
                        found.append(parts[1])
    return found[:3]


class VmPorts:
    """Port containers of VMs on one Docker engine (blocking calls: run them in a thread)."""

    def __init__(self, docker_host: str | None = None) -> None:
        self.docker_host = docker_host

    def _client(self) -> Any:
        from cumulo.drivers import dockerclient

        return dockerclient.client(self.docker_host)

    def lease(self, network: str, ipv4: str | None, vm: str) -> Lease:
        """The guest's address (``ipv4``, else the highest free one of the network's block), its
        prefix, gateway and MAC."""
        import docker.errors

        client = self._client()
        try:
            info = client.api.inspect_network(network)
        except docker.errors.NotFound as exc:
            raise Unavailable(f"the VM's network '{network}' does not exist") from exc
        finally:
            client.close()
        config = (info.get("IPAM") or {}).get("Config") or [{}]
        block = ipaddress.IPv4Network(config[0]["Subnet"])
        gateway = config[0].get("Gateway") or str(block.network_address + 1)
        if ipv4 is None:
            used = {gateway} | {c["IPv4Address"].split("/")[0] for c in (info.get("Containers") or {}).values()}
            ipv4 = next((str(a) for a in reversed(list(block.hosts())) if str(a) not in used), None)
            if ipv4 is None:
                raise Unavailable(f"the VM's network '{network}' has no free address left")
        return Lease(address=ipv4, prefix=block.prefixlen, gateway=gateway, mac=mac_of(vm))

    def attach(self, vm: str, image: str, labels: dict[str, str], network: str, lease: Lease,
               aliases: list[str], ports: list[PortBinding], publish_host: str) -> Placement:
        """A fresh port container for ``vm`` on ``network`` with the lease's address and MAC (an old
        one is replaced)."""
        import docker.errors

        self.detach(vm)
        client = self._client()
        try:
            endpoint = client.api.create_endpoint_config(ipv4_address=lease.address, aliases=aliases or None)
            host_config = client.api.create_host_config(
                network_mode=network, port_bindings={f"{p.container}/tcp": (publish_host, p.host) for p in ports},
                cap_drop=["ALL"], init=False)
            candidates = [*IMAGES, image]
            created = None
            for candidate in candidates:
                try:
                    created = client.api.create_container(
                        candidate, command=SLEEP, name=port_name(vm), entrypoint=[], hostname=aliases[0][:63]
                        if aliases else None, labels={**labels, LABEL_PORT: vm}, host_config=host_config,
                        mac_address=lease.mac,
                        ports=[(p.container, "tcp") for p in ports],
                        networking_config=client.api.create_networking_config({network: endpoint}))
                    break
                except docker.errors.ImageNotFound:
                    continue
            if created is None:
                raise Unavailable(f"no image to hold the VM's network ({', '.join(candidates)})")
            try:
                client.api.start(created["Id"])
            except docker.errors.APIError as exc:
                client.api.remove_container(created["Id"], force=True)
                text = str(exc.explanation or exc)
                if "port is already allocated" in text or "bind: address already in use" in text:
                    raise PortInUse(f"a published host port is taken: {text[-300:]}") from exc
                if "ddress already in use" in text:
                    raise AddressTaken(f"address {lease.address} was taken meanwhile") from exc
                raise Unavailable(f"the VM's network could not be set up: {text[-300:]}") from exc
            info = client.api.inspect_container(created["Id"])
        except docker.errors.NotFound as exc:
            raise Unavailable(f"the VM's network '{network}' does not exist: {exc.explanation}") from exc
        finally:
            client.close()
        pid = int(info["State"]["Pid"])
        net = (info["NetworkSettings"]["Networks"] or {}).get(network) or {}
        bound = []
        for key, hosts in (info["NetworkSettings"].get("Ports") or {}).items():
            if hosts:
                bound.append(PortBinding(int(hosts[0]["HostPort"]), int(key.split("/")[0])))
        return Placement(container=info["Id"], pid=pid, address=net["IPAddress"], prefix=int(net["IPPrefixLen"]),
                         gateway=net["Gateway"], mac=net["MacAddress"], ports=bound)

    @staticmethod
    def plug(netns: str, placement: Placement, guest_mac: str) -> None:
        """Move the tap from QEMU's namespace into the port container's and tie it to ``eth0``: every
        frame from the bridge goes to the guest; from the guest only IPv4 and ARP with its own MAC and
        address go out (anything else dies in the port container's empty namespace: no spoofing)."""
        _sh(["ip", "-n", netns, "link", "set", TAP, "netns", str(placement.pid)])
        mac = guest_mac.replace(":", "")
        ip = ipaddress.IPv4Address(placement.address).packed.hex()
        mine = f"match u32 0x{mac[:8]} 0xffffffff at -8 match u16 0x{mac[8:]} 0xffff at -4"
        out = "action mirred egress redirect dev eth0"
        script = " && ".join([
            f"ip link set {TAP} mtu $(cat /sys/class/net/eth0/mtu)", f"ip link set {TAP} up",
            "ip addr flush dev eth0", "echo 0 > /proc/sys/net/ipv4/ip_forward",
            "tc qdisc add dev eth0 ingress", f"tc qdisc add dev {TAP} ingress",
            f"tc filter add dev eth0 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev {TAP}",
            f"tc filter add dev {TAP} parent ffff: protocol ip prio 1 u32 match ip src {placement.address}/32 {mine} {out}",
            (f"tc filter add dev {TAP} parent ffff: protocol arp prio 2 u32 match u16 0x{ip[:4]} 0xffff at 14 "
             f"match u16 0x{ip[4:]} 0xffff at 16 {mine} {out}")])
        _sh(["nsenter", f"--net=/proc/{placement.pid}/ns/net", "--", "sh", "-c", script])

    def pid(self, vm: str) -> int | None:
        """The port container's process (its network namespace), None when it does not run."""
        import docker.errors

        client = self._client()
        try:
            state = client.api.inspect_container(port_name(vm))["State"]
        except docker.errors.NotFound:
            return None
        finally:
            client.close()
        return int(state["Pid"]) if state.get("Running") else None

    def detach(self, vm: str) -> None:
        import docker.errors

        client = self._client()
        try:
            client.api.remove_container(port_name(vm), force=True)
        except docker.errors.NotFound:
            pass
        finally:
            client.close()

    def names(self) -> set[str]:
        """The VMs that have a port container on this engine."""
        client = self._client()
        try:
            found = client.api.containers(all=True, filters={"label": [LABEL_PORT]})
        finally:
            client.close()
        return {c["Labels"][LABEL_PORT] for c in found}


def join_cgroups(of_pid: int, pid: int) -> None:
    """Move ``pid`` (QEMU) into every cgroup of ``of_pid`` (the port container), best effort."""
    try:
        lines = Path(f"/proc/{of_pid}/cgroup").read_text().splitlines()
    except OSError:
        return
    for line in lines:
        _, controllers, path = line.split(":", 2)
        names = [c.removeprefix("name=") for c in controllers.split(",") if c] or ["unified", ""]
        for name in names:
            procs = Path("/sys/fs/cgroup") / name / path.lstrip("/") / "cgroup.procs"
            with contextlib.suppress(OSError):
                procs.write_text(str(pid))
                break


def net_bytes(pid: int) -> tuple[int, int]:
    """(received, sent) bytes of the guest: the port container's ``eth0`` as QEMU's namespace sees it."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/net/dev").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name.strip() == "eth0":
                fields = rest.split()
                return int(fields[0]), int(fields[8])
    return 0, 0
