"""Instances in VPCs, against the real dockerd: isolation both ways, reachability by name, subnet
addresses, in-use conflicts, foreign ids."""

from __future__ import annotations

import ipaddress

import pytest

from tests.services.network.dockerkit import fetch, launch_web, status_of

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it


def test_vpcs_isolate_and_names_resolve_inside_one(sqlite_user, busybox) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_user
    a = c.post("/vpcs", {"name": "vpc-a"})
    b = c.post("/vpcs", {"name": "vpc-b"})
    a1 = launch_web(c, "a1", vpc_id=a["id"])
    a2 = launch_web(c, "a2", vpc_id=a["id"])
    b1 = launch_web(c, "b1", vpc_id=b["id"])
    assert ipaddress.ip_address(a1["ip_address"]) in ipaddress.ip_network(a["cidr_block"])
    assert ipaddress.ip_address(b1["ip_address"]) in ipaddress.ip_network(b["cidr_block"])
    # same VPC: by name, both ways
    assert fetch(a1["id"], "a2") == "a2"
    assert fetch(a2["id"], "a1") == "a1"
    # different VPCs: neither by address nor by name, in both directions
    assert fetch(a1["id"], b1["ip_address"]) is None
    assert fetch(b1["id"], a1["ip_address"]) is None
    assert fetch(b1["id"], "a1") is None
    # a VPC in use cannot go away
    assert status_of(lambda: c.delete(f"/vpcs/{a['id']}")) == 409
    for inst in (a1, a2, b1):
        c.delete(f"/instances/{inst['id']}")
    c.delete(f"/vpcs/{a['id']}")
    c.delete(f"/vpcs/{b['id']}")
    assert c.get("/vpcs") == []


def test_subnet_addresses_are_assigned_and_released(sqlite_user, busybox) -> None:  # type: ignore[no-untyped-def]
    c = sqlite_user
    vpc = c.post("/vpcs", {"name": "addr", "cidr_block": "10.240.0.0/16"})
    sub = c.post(f"/vpcs/{vpc['id']}/subnets", {"name": "web", "cidr_block": "10.240.7.0/28"})
    first = launch_web(c, "s1", subnet_id=sub["id"])
    second = launch_web(c, "s2", vpc_id=vpc["id"], subnet_id=sub["name"])
    # .0 network, .1 gateway reserved: the first two free addresses
    assert (first["ip_address"], second["ip_address"]) == ("10.240.7.2", "10.240.7.3")
    assert first["subnet_id"] == sub["id"] and first["vpc_id"] == vpc["id"]
    assert c.get(f"/subnets/{sub['id']}")["available_ip_count"] == 11
    assert fetch(second["id"], "10.240.7.2") == "s1"
    assert status_of(lambda: c.delete(f"/subnets/{sub['id']}")) == 409
    c.delete(f"/instances/{first['id']}")
    third = launch_web(c, "s3", subnet_id=sub["id"])
    assert third["ip_address"] == "10.240.7.2"  # given back when s1 was terminated
    for inst in (second, third):
        c.delete(f"/instances/{inst['id']}")
    assert c.get(f"/subnets/{sub['id']}")["available_ip_count"] == 13
    c.delete(f"/subnets/{sub['id']}")
    c.delete(f"/vpcs/{vpc['id']}")


def test_launch_into_foreign_or_mismatched_network_is_refused(sqlite_user, other_user_sqlite, busybox) -> None:  # type: ignore[no-untyped-def]
    mine = sqlite_user.post("/vpcs", {"name": "mine"})
    other = sqlite_user.post("/vpcs", {"name": "other"})
    sub = sqlite_user.post(f"/vpcs/{mine['id']}/subnets", {"name": "s", "cidr_block":
                                                          mine["cidr_block"].replace(".0.0/16", ".1.0/24")})
    body = {"name": "x", "image": "cumulo/busybox", "command": ["sleep", "60"]}
    assert status_of(lambda: other_user_sqlite.post("/instances", {**body, "vpc_id": mine["id"]})) == 404
    assert status_of(lambda: other_user_sqlite.post("/instances", {**body, "subnet_id": sub["id"]})) == 404
    assert status_of(lambda: sqlite_user.post("/instances", {**body, "vpc_id": other["id"],
                                                             "subnet_id": sub["id"]})) == 400
    assert status_of(lambda: sqlite_user.post("/instances", {**body, "vpc_id": "no-such-vpc"})) == 404
    assert sqlite_user.get("/instances") == [] and other_user_sqlite.get("/instances") == []
    assert sqlite_user.get(f"/subnets/{sub['id']}")["available_ip_count"] == 253
    for v in (mine, other):
        sqlite_user.delete(f"/vpcs/{v['id']}")
