"""VPCs and subnets through the HTTP API, on SQLite and PostgreSQL, against the real dockerd."""

from __future__ import annotations

import ipaddress

import docker
import pytest

from cumulo.client.base import ApiError

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it


def _status(fn, *args, **kwargs) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as info:
        fn(*args, **kwargs)
    return info.value.status


def test_vpc_lifecycle_makes_and_removes_a_docker_network(user) -> None:  # type: ignore[no-untyped-def]
    vpc = user.post("/vpcs", {"name": "prod"})
    net = ipaddress.ip_network(vpc["cidr_block"])
    assert net.prefixlen == 16 and net.subnet_of(ipaddress.ip_network("10.0.0.0/8"))
    attrs = docker.from_env().api.inspect_network(vpc["network_name"])
    assert attrs["IPAM"]["Config"][0]["Subnet"] == vpc["cidr_block"]
    assert attrs["Labels"]["cumulo.resource"] == vpc["id"]
    assert [v["id"] for v in user.get("/vpcs")] == [vpc["id"]]
    assert user.get("/vpcs/prod")["id"] == vpc["id"]
    user.delete(f"/vpcs/{vpc['id']}")
    assert user.get("/vpcs") == []
    with pytest.raises(docker.errors.NotFound):
        docker.from_env().networks.get(vpc["network_name"])


def test_default_blocks_never_overlap(user) -> None:  # type: ignore[no-untyped-def]
    a = user.post("/vpcs", {"name": "a"})
    b = user.post("/vpcs", {"name": "b"})
    assert not ipaddress.ip_network(a["cidr_block"]).overlaps(ipaddress.ip_network(b["cidr_block"]))
    assert _status(user.post, "/vpcs", {"name": "c", "cidr_block": a["cidr_block"]}) == 409
    inner = str(next(ipaddress.ip_network(b["cidr_block"]).subnets(new_prefix=24)))
    assert _status(user.post, "/vpcs", {"name": "c", "cidr_block": inner}) == 409
    assert _status(user.post, "/vpcs", {"name": "a"}) == 409
    assert [v["name"] for v in user.get("/vpcs")] == ["a", "b"]
    for v in (a, b):
        user.delete(f"/vpcs/{v['id']}")


@pytest.mark.parametrize("body", [
    {}, {"name": ""}, {"name": "x" * 65}, {"name": "bad name"}, {"name": "ok", "cidr_block": "10.0.0.0"},
    {"name": "ok", "cidr_block": "10.0.0.1/16"}, {"name": "ok", "cidr_block": "8.8.0.0/16"},
    {"name": "ok", "cidr_block": "10.0.0.0/8"}, {"name": "ok", "cidr_block": "10.0.0.0/30"},
    {"name": "ok", "cidr_block": "fd00::/64"}, {"name": "ok", "cidr_block": 12}, {"name": "ok", "extra": 1},
])
def test_bad_vpc_input_is_400_and_creates_nothing(user, body) -> None:  # type: ignore[no-untyped-def]
    assert _status(user.post, "/vpcs", body) == 400
    assert user.get("/vpcs") == []


def test_subnets(user) -> None:  # type: ignore[no-untyped-def]
    vpc = user.post("/vpcs", {"name": "net", "cidr_block": "10.250.0.0/16"})
    s1 = user.post(f"/vpcs/{vpc['id']}/subnets", {"name": "web", "cidr_block": "10.250.1.0/24",
                                                   "availability_zone": "local-1b"})
    # the router instances really use: the VPC's bridge (one Docker network per VPC), not subnet + 1
    assert s1["gateway_ip"] == "10.250.0.1" and s1["broadcast_ip"] == "10.250.1.255"
    assert s1["available_ip_count"] == 253 and s1["availability_zone"] == "local-1b"
    assert user.get(f"/subnets/{s1['id']}")["vpc_id"] == vpc["id"]
    assert _status(user.post, f"/vpcs/{vpc['id']}/subnets", {"name": "x", "cidr_block": "10.250.1.128/25"}) == 409
    assert _status(user.post, f"/vpcs/{vpc['id']}/subnets", {"name": "x", "cidr_block": "10.251.0.0/24"}) == 400
    assert _status(user.post, f"/vpcs/{vpc['id']}/subnets", {"name": "web", "cidr_block": "10.250.2.0/24"}) == 409
    assert _status(user.post, f"/vpcs/{vpc['id']}/subnets", {"name": "x", "cidr_block": "nope"}) == 400
    s2 = user.post(f"/vpcs/{vpc['id']}/subnets", {"name": "db", "cidr_block": "10.250.2.0/28"})
    assert s2["available_ip_count"] == 13
    assert [s["name"] for s in user.get(f"/vpcs/{vpc['id']}/subnets")] == ["web", "db"]
    user.delete(f"/subnets/{s2['id']}")
    assert _status(user.get, f"/subnets/{s2['id']}") == 404
    user.delete(f"/vpcs/{vpc['id']}")
    assert _status(user.get, f"/subnets/{s1['id']}") == 404


def test_another_users_vpc_and_subnet_are_404(user, other_user) -> None:  # type: ignore[no-untyped-def]
    vpc = user.post("/vpcs", {"name": "mine"})
    sub = user.post(f"/vpcs/{vpc['id']}/subnets", {"name": "s", "cidr_block": vpc["cidr_block"].replace(".0.0/16",
                                                                                                        ".3.0/24")})
    for call in (lambda: other_user.get(f"/vpcs/{vpc['id']}"), lambda: other_user.delete(f"/vpcs/{vpc['id']}"),
                 lambda: other_user.get(f"/vpcs/{vpc['id']}/subnets"),
                 lambda: other_user.post(f"/vpcs/{vpc['id']}/subnets", {"name": "t", "cidr_block": "10.9.0.0/24"}),
                 lambda: other_user.get(f"/subnets/{sub['id']}"), lambda: other_user.delete(f"/subnets/{sub['id']}"),
                 lambda: other_user.get("/vpcs/mine")):
        assert _status(call) == 404
    assert other_user.get("/vpcs") == []
    user.delete(f"/vpcs/{vpc['id']}")


def test_blocks_taken_by_another_installation_after_the_look_are_skipped(server, user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two installations on one engine look at the free blocks at the same moment: the one that loses
    the race at Docker goes on to the next free block (the CI flake: 409 "Pool overlaps"), even when
    more blocks than one look's candidates were taken meanwhile."""
    import uuid

    from docker.types import IPAMConfig, IPAMPool

    from cumulo.services.network import service

    engine = docker.from_env()
    real = service._occupied
    foreign: list[object] = []

    async def stale(platform, session):  # type: ignore[no-untyped-def]
        found = await real(platform, session)
        if not foreign:  # right after the first look, another installation takes the next nine blocks
            free = (c for c in service._pool(server.platform, server.platform.settings.vpc_prefix)
                    if not any(net.overlaps(c) for net, _ in found))
            for block, _ in zip(free, range(9)):
                foreign.append(engine.networks.create(
                    f"cumulo-test-foreign-{uuid.uuid4().hex[:8]}", labels={"cumulo.test": "foreign"},
                    ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=str(block))])))
        return found

    monkeypatch.setattr(service, "_occupied", stale)
    try:
        vpc = user.post("/vpcs", {"name": "late"})
        taken = {n.attrs["IPAM"]["Config"][0]["Subnet"] for n in foreign}  # type: ignore[attr-defined]
        assert len(taken) == 9 and vpc["cidr_block"] not in taken
        assert engine.api.inspect_network(vpc["network_name"])["IPAM"]["Config"][0]["Subnet"] == vpc["cidr_block"]
    finally:
        for net in foreign:
            net.remove()  # type: ignore[attr-defined]
