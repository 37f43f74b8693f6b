"""Tenant networks (issue 10 points 3, 7 and 8; issue 13's gateway): two users never share a network,
nothing joins Docker's default bridge, VPC blocks never shadow a network of the host and come from
the operator's pool, and a user's VPC count is capped. Real dockerd, real host interfaces."""

from __future__ import annotations

import ipaddress
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from cumulo.client import ApiError, Client
from cumulo.drivers.network.host import host_networks, parse_fib_trie, parse_route
from cumulo.testing.server import LiveServer
from tests.conftest import concurrent_statuses, register_and_login
from tests.services.network.dockerkit import (
    IMAGE,
    container_of,
    exec_in,
    fetch,
    launch_web,
    status_of,
)
from tests.services.network.dockerkit import busybox as _busybox  # noqa: F401 - the fixture

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("_busybox")]
SLEEP = ["sleep", "3600"]


@pytest.fixture
def two_users(server_sqlite: LiveServer) -> Iterator[tuple[Client, Client]]:
    a, b = register_and_login(server_sqlite), register_and_login(server_sqlite)
    yield a, b
    for client in (a, b):
        for inst in client.get("/instances"):
            client.delete(f"/instances/{inst['id']}")
        client.close()


def _networks_of(instance_id: str) -> dict[str, Any]:
    return container_of(instance_id).attrs["NetworkSettings"]["Networks"]  # type: ignore[no-any-return]


def test_instances_without_a_vpc_of_two_users_cannot_reach_each_other(two_users) -> None:  # type: ignore[no-untyped-def]
    """Before: both joined Docker's default bridge, and B reached A's unpublished server."""
    a, b = two_users
    server = launch_web(a, "a-server")  # no vpc_id, no published port
    neighbour = launch_web(a, "a-client")
    intruder = b.post("/instances", {"name": "b-client", "image": IMAGE, "command": SLEEP})
    assert intruder["status"] == "RUNNING", intruder
    # the other user's instance reaches neither the address nor the name
    assert fetch(intruder["id"], server["ip_address"]) is None
    assert fetch(intruder["id"], "a-server") is None
    # the owner's own instances share the owner's default VPC, and reach each other (also by name)
    assert fetch(neighbour["id"], server["ip_address"]) == "a-server"
    assert fetch(neighbour["id"], "a-server") == "a-server"
    # each user got a default VPC of their own, visible and flagged; nothing is on the default bridge
    (vpc_a,), (vpc_b,) = a.get("/vpcs"), b.get("/vpcs")
    assert vpc_a["is_default"] and vpc_b["is_default"] and vpc_a["id"] != vpc_b["id"]
    assert server["vpc_id"] == neighbour["vpc_id"] == vpc_a["id"] and intruder["vpc_id"] == vpc_b["id"]
    assert not ipaddress.ip_network(vpc_a["cidr_block"]).overlaps(ipaddress.ip_network(vpc_b["cidr_block"]))
    assert ipaddress.ip_address(server["ip_address"]) in ipaddress.ip_network(vpc_a["cidr_block"])
    for inst in (server, neighbour, intruder):
        assert list(_networks_of(inst["id"])) != ["bridge"] and "bridge" not in _networks_of(inst["id"])
    # the default VPC goes away with its last instance (its block back to the pool), and comes back on need
    for inst in (server, neighbour):
        a.delete(f"/instances/{inst['id']}")
    assert a.get("/vpcs") == []
    with pytest.raises(docker.errors.NotFound):
        docker.from_env().networks.get(vpc_a["network_name"])
    again = a.post("/instances", {"name": "again", "image": IMAGE, "command": SLEEP})
    assert [v["is_default"] for v in a.get("/vpcs")] == [True] and again["vpc_id"] == a.get("/vpcs")[0]["id"]


def test_a_subnets_gateway_is_the_router_its_instances_use(server_sqlite: LiveServer) -> None:
    with register_and_login(server_sqlite) as c:
        vpc = c.post("/vpcs", {"name": "gw"})
        block = ipaddress.ip_network(vpc["cidr_block"])
        sub = c.post(f"/vpcs/{vpc['id']}/subnets", {"name": "s", "cidr_block": str(list(block.subnets(new_prefix=24))[5])})
        inst = c.post("/instances", {"name": "gw-1", "image": IMAGE, "command": SLEEP, "subnet_id": sub["id"]})
        code, out = exec_in(inst["id"], "ip route show default || route -n")
        assert code == 0 and sub["gateway_ip"] in out.split(), out
        c.delete(f"/instances/{inst['id']}")
        c.delete(f"/vpcs/{vpc['id']}")


# --- VPC blocks and the host's own networks ----------------------------------------------------------

FIB = """Main:
  +-- 0.0.0.0/0 3 0 4
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.77.0.0/16 2 0 2
        |-- 10.77.0.0
           /16 link UNICAST
        |-- 10.77.3.4
           /32 host LOCAL
        |-- 10.77.255.255
           /32 link BROADCAST
"""
ROUTE = ("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
         "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
         "tun0\t0000A8C0\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n")


def test_host_networks_are_read_from_routes_and_addresses() -> None:
    assert parse_fib_trie(FIB) == {ipaddress.ip_network("10.77.0.0/16"), ipaddress.ip_network("10.77.3.4/32")}
    assert parse_route(ROUTE) == {ipaddress.ip_network("192.168.0.0/16")}  # the default route is no network
    assert ipaddress.ip_network("127.0.0.0/8") in host_networks()  # the loopback counts


def _free_test_block() -> ipaddress.IPv4Network:
    """A /23 of 10.0.0.0/8 that no network of this host (nor Docker) uses right now."""
    client = docker.from_env()
    used = [ipaddress.ip_network(c["Subnet"]) for n in client.api.networks()
            for c in (n.get("IPAM") or {}).get("Config") or [] if "." in c.get("Subnet", "")] + host_networks()
    for third in range(0, 256, 2):
        block = ipaddress.ip_network(f"10.253.{third}.0/23")
        if not any(block.overlaps(u) for u in used):
            return block
    pytest.skip("no free 10.253.x.0/23 block on this host")


@pytest.fixture
def host_interface() -> Iterator[tuple[ipaddress.IPv4Network, ipaddress.IPv4Network]]:
    """An interface of the host holding the first /24 of a free /23 (removed at the end): a host
    network that is no Docker network, like a LAN or a VPN route. A dummy link, or an empty bridge
    where the kernel has no dummy driver; no traffic goes through it."""
    block = _free_test_block()
    lan, spare = block.subnets(new_prefix=24)
    name = f"cmt{uuid.uuid4().hex[:8]}"
    for kind in ("dummy", "bridge"):
        made = subprocess.run(["ip", "link", "add", name, "type", kind], capture_output=True, check=False)
        if made.returncode == 0:
            break
    else:
        pytest.skip(f"cannot add an interface here: {made.stderr.decode().strip()}")
    try:
        subprocess.run(["ip", "addr", "add", f"{lan.network_address + 1}/24", "dev", name], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        yield lan, spare
    finally:
        subprocess.run(["ip", "link", "del", name], check=False)


def test_vpc_blocks_overlapping_a_host_network_are_refused_and_the_pool_skips_them(  # type: ignore[no-untyped-def]
        make_server, host_interface) -> None:
    lan, spare = host_interface
    live = make_server(vpc_pool=str(lan.supernet(new_prefix=23)), vpc_prefix=24)
    with register_and_login(live) as c:
        for block in (str(lan), str(lan.supernet(new_prefix=23)), str(next(lan.subnets(new_prefix=28)))):
            with pytest.raises(ApiError) as err:
                c.post("/vpcs", {"name": "shadow", "cidr_block": block})
            assert err.value.status == 409 and "network of this host" in err.value.message, block
        assert status_of(lambda: c.post("/vpcs", {"name": "lo", "cidr_block": "127.0.0.0/16"})) == 400
        chosen = c.post("/vpcs", {"name": "auto"})  # from the pool, past the host's network
        assert chosen["cidr_block"] == str(spare)
        with pytest.raises(ApiError) as full:
            c.post("/vpcs", {"name": "none-left"})
        assert full.value.status == 409 and "CUMULO_VPC_POOL" in full.value.message
        assert [v["name"] for v in c.get("/vpcs")] == ["auto"]
        c.delete(f"/vpcs/{chosen['id']}")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_vpc_count_quota_holds_under_concurrent_creates(make_server, backend: str) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import _create_pg_database

    url, drop = _create_pg_database() if backend == "postgresql" else (None, lambda: None)
    live = make_server(quota_vpcs=2, database_url=url)
    with register_and_login(live) as c:
        codes = concurrent_statuses([lambda i=i: c.post("/vpcs", {"name": f"q{i}"}) for i in range(5)])
        assert codes == [201, 201, 403, 403, 403]
        quotas = {q["kind"]: q for q in c.get("/quotas")}
        assert quotas["vpcs"]["used"] == 2 and quotas["vpcs"]["limit"] == 2
        assert quotas["vpcs"]["setting"] == "CUMULO_QUOTA_VPCS"
        # the default VPC is not counted: a launch without a VPC still works at the limit
        inst = c.post("/instances", {"name": "d", "image": IMAGE, "command": SLEEP})
        assert inst["status"] == "RUNNING" and len(c.get("/vpcs")) == 3
        c.delete(f"/instances/{inst['id']}")
        for vpc in c.get("/vpcs"):
            c.delete(f"/vpcs/{vpc['id']}")
    live.stop()
    drop()


PROBE = '''
import socket

def probe(event, context):
    caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff:")][0]
    links = [l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]]
    try:
        socket.create_connection((event["ip"], 8080), timeout=3).close()
        reached = True
    except OSError:
        reached = False
    return {"caps": caps, "links": links, "reached": reached}
'''


def test_function_containers_join_no_shared_network_and_keep_no_capability(two_users) -> None:  # type: ignore[no-untyped-def]
    """Tenant code of functions runs with no network unless the function names one of its owner's
    VPCs (never Docker's default bridge), and with every capability dropped."""
    from cumulo.client.functions import zip_files

    a, b = two_users
    web = launch_web(a, "fn-target")
    code = zip_files({"main.py": PROBE})
    theirs = b.functions.create(f"probe-{uuid.uuid4().hex[:6]}", "python", code, handler="main.probe")
    out = b.functions.invoke(theirs["id"], {"ip": web["ip_address"]})
    assert out["status"] == "SUCCESS", out
    assert out["result"] == {"caps": "0000000000000000", "links": ["lo"], "reached": False}
    # the owner may put a function in its default VPC: it reaches the owner's instances there
    mine = a.functions.create(f"probe-{uuid.uuid4().hex[:6]}", "python", code, handler="main.probe",
                              vpc_id=web["vpc_id"])
    out = a.functions.invoke(mine["id"], {"ip": web["ip_address"]})
    assert out["status"] == "SUCCESS" and out["result"]["reached"] is True, out
    assert out["result"]["caps"] == "0000000000000000" and "lo" in out["result"]["links"]
    for client, fn in ((a, mine), (b, theirs)):
        client.delete(f"/functions/{fn['id']}")
