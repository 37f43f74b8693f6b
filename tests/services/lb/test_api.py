"""The ``/loadbalancers`` API on SQLite and PostgreSQL: shapes, validation, ownership, conflicts,
quota, updates and deregistration (no traffic here: see test_traffic.py)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cumulo.client import ApiError, Client
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login


def status(call: Callable[[], Any]) -> int:
    try:
        call()
    except ApiError as exc:
        return exc.status
    raise AssertionError("the call succeeded")


def free_lb_port() -> int:
    for port in range(18000, 19000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port in 18000-18999")


@pytest.fixture
def sleeper(user: Client) -> dict[str, Any]:
    inst = user.instances.launch("lb-api-target", "cumulo/busybox", command=["sleep", "3600"], memory_mb=32,
                                 cpus=0.1)
    yield inst
    user.instances.terminate(inst["id"])


def test_create_with_defaults_get_list_delete(server: LiveServer, user: Client) -> None:
    lb = user.lb.create("web")
    slug = user.identity.me()["id"].replace("-", "")[:8]
    assert lb["hostname"] == f"web-{slug}.localhost"
    assert lb["url"] == f"http://web-{slug}.localhost:{server.settings.proxy_http_port}/"
    assert lb["port"] is None and lb["algorithm"] == "round_robin" and lb["sticky"] is None
    assert lb["health_check"] == {"path": "/", "port": None, "interval_seconds": 30, "timeout_seconds": 5,
                                  "healthy_threshold": 5, "unhealthy_threshold": 2, "matcher": "200-399"}
    assert lb["deregistration_delay_seconds"] == 300 and lb["targets"] == [] and lb["in_service"] == 0
    assert not lb["fail_open"] and "503" in lb["status_message"]
    assert user.lb.get("web")["id"] == lb["id"]  # by name too
    assert [x["id"] for x in user.lb.list()] == [lb["id"]]
    m = user.lb.metrics(lb["id"])
    assert m["requests"] == 0 and m["errors"] == 0 and m["responses_by_class"]["2xx"] == 0
    assert any(q["kind"] == "load_balancers" and q["used"] == 1 for q in user.get("/quotas"))
    user.lb.delete(lb["id"])
    assert status(lambda: user.lb.get(lb["id"])) == 404
    assert user.lb.create("web")["hostname"] == lb["hostname"]  # the name and hostname are free again
    user.lb.delete("web")


def test_a_dedicated_port(server: LiveServer, user: Client, other_user: Client) -> None:
    port = free_lb_port()
    lb = user.lb.create("onport", port=port, algorithm="least_conn", sticky={"cookie_name": "pin"})
    assert lb["port"] == port and lb["hostname"] is None and lb["url"] == f"http://localhost:{port}/"
    assert lb["sticky"] == {"cookie_name": "pin"} and lb["algorithm"] == "least_conn"
    assert status(lambda: other_user.lb.create("theirs", port=port)) == 409
    assert status(lambda: user.lb.create("low", port=80)) == 400  # outside CUMULO_LB_PORT_RANGE
    assert status(lambda: user.lb.update(lb["id"], hostname="x.example.com")) == 400
    user.lb.delete(lb["id"])


@pytest.mark.docker  # launches an instance
def test_another_users_load_balancer_is_404(user: Client, other_user: Client, sleeper: dict[str, Any]) -> None:
    lb = user.lb.create("mine", targets=[{"instance_id": sleeper["id"], "port": 80}])
    for call in (lambda: other_user.lb.get(lb["id"]), lambda: other_user.lb.update(lb["id"], algorithm="first"),
                 lambda: other_user.lb.delete(lb["id"]), lambda: other_user.lb.metrics(lb["id"]),
                 lambda: other_user.lb.add_targets(lb["id"], [{"instance_id": sleeper["id"], "port": 81}]),
                 lambda: other_user.lb.remove_targets(lb["id"], [{"instance_id": sleeper["id"]}])):
        assert status(call) == 404
    assert other_user.lb.list() == []
    # their own load balancer cannot take my instance either, and nothing is half-created
    assert status(lambda: other_user.lb.create("steal", targets=[{"instance_id": sleeper["id"], "port": 80}])) == 404
    assert other_user.lb.list() == []
    assert other_user.lb.create("steal")["hostname"]  # the name was not left taken
    other_user.lb.delete("steal")
    user.lb.delete(lb["id"])


@pytest.mark.docker  # launches an instance
def test_targets_are_registered_on_the_vpc_address(user: Client, sleeper: dict[str, Any]) -> None:
    lb = user.lb.create("tg", targets=[{"instance_id": sleeper["name"], "port": 80, "weight": 3}],
                        deregistration_delay_seconds=0)
    (t,) = lb["targets"]
    assert t["instance_id"] == sleeper["id"] and t["weight"] == 3 and t["health"] == "initial"
    assert t["address"] == user.instances.get(sleeper["id"])["ip_address"] and t["address"]
    assert t["reason_code"] == "Elb.InitialHealthChecking"
    assert not lb["fail_open"] and lb["in_service"] == 1  # not checked yet: served at once
    assert "in progress" in lb["status_message"]
    lb = user.lb.add_targets("tg", [{"instance_id": sleeper["id"], "port": 80, "weight": 5},
                                    {"instance_id": sleeper["id"], "port": 8080}])
    assert sorted((t["port"], t["weight"]) for t in lb["targets"]) == [(80, 5), (8080, 1)]
    assert status(lambda: user.lb.remove_targets("tg", [{"instance_id": sleeper["id"], "port": 9}])) == 404
    assert status(lambda: user.lb.remove_targets("tg", [{"instance_id": "nope", "port": 80}])) == 404
    lb = user.lb.remove_targets("tg", [{"instance_id": sleeper["name"], "port": 8080}])  # delay 0: gone at once
    assert [t["port"] for t in lb["targets"]] == [80]
    target_id = lb["targets"][0]["id"]
    lb = user.request("DELETE", f"/loadbalancers/tg/targets/{target_id}")
    assert lb["targets"] == []
    assert status(lambda: user.request("DELETE", f"/loadbalancers/tg/targets/{target_id}")) == 404
    user.lb.delete("tg")


@pytest.mark.docker  # launches an instance
def test_deregistration_drains(user: Client, sleeper: dict[str, Any]) -> None:
    lb = user.lb.create("dr", targets=[{"instance_id": sleeper["id"], "port": 80}], deregistration_delay_seconds=600)
    lb = user.lb.remove_targets(lb["id"], [{"instance_id": sleeper["id"]}])
    (t,) = lb["targets"]
    assert t["health"] == "draining" and t["drain_until"] and not t["in_service"]
    assert t["reason_code"] == "Target.DeregistrationInProgress" and lb["in_service"] == 0
    lb = user.lb.add_targets(lb["id"], [{"instance_id": sleeper["id"], "port": 80}])  # registered again
    assert lb["targets"][0]["health"] == "initial" and lb["targets"][0]["drain_until"] is None
    lb = user.lb.update(lb["id"], targets=[])  # the whole list replaced: the left-out target drains
    assert [t["health"] for t in lb["targets"]] == ["draining"]
    user.lb.delete(lb["id"])


def test_conflicts_and_hostnames(user: Client, other_user: Client) -> None:
    a = user.lb.create("one", hostname="Shop.Example.com.")
    assert a["hostname"] == "shop.example.com" and a["url"].startswith("http://shop.example.com")
    assert status(lambda: user.lb.create("one")) == 409
    assert status(lambda: other_user.lb.create("two", hostname="shop.example.com")) == 409
    assert status(lambda: other_user.lb.update("two", hostname="shop.example.com")) == 404
    b = other_user.lb.create("two")
    assert status(lambda: other_user.lb.update(b["id"], hostname="shop.example.com")) == 409
    slug = user.identity.me()["id"].replace("-", "")[:8]
    assert status(lambda: other_user.lb.create("three", hostname=f"one-{slug}.localhost")) == 400  # not theirs
    renamed = user.lb.update(a["id"], name="renamed", hostname=None)  # back to a generated hostname
    assert renamed["hostname"] == f"renamed-{slug}.localhost" and renamed["name"] == "renamed"
    again = other_user.lb.update(b["id"], hostname="shop.example.com")  # released by the first user
    assert again["hostname"] == "shop.example.com"
    user.lb.delete(a["id"])
    other_user.lb.delete(b["id"])


def test_update_merges_the_health_check_and_validates_it(user: Client) -> None:
    lb = user.lb.create("hc", health_check={"path": "/healthz", "interval_seconds": 10, "timeout_seconds": 2})
    lb = user.lb.update(lb["id"], health_check={"healthy_threshold": 3, "matcher": "200,204"},
                        algorithm="ip_hash", sticky={"cookie_name": "s1"}, deregistration_delay_seconds=5)
    assert lb["health_check"] == {"path": "/healthz", "port": None, "interval_seconds": 10, "timeout_seconds": 2,
                                  "healthy_threshold": 3, "unhealthy_threshold": 2, "matcher": "200,204"}
    assert lb["algorithm"] == "ip_hash" and lb["sticky"] == {"cookie_name": "s1"}
    assert lb["deregistration_delay_seconds"] == 5
    with pytest.raises(ApiError) as err:
        user.lb.update(lb["id"], health_check={"timeout_seconds": 20})
    assert err.value.status == 400 and "timeout_seconds" in err.value.message
    assert user.lb.get(lb["id"])["health_check"]["timeout_seconds"] == 2  # unchanged
    assert user.lb.update(lb["id"], sticky=None)["sticky"] is None
    user.lb.delete(lb["id"])


@pytest.mark.parametrize("body", [
    {},
    {"name": "Bad_Name"},
    {"name": "x" * 40},
    {"name": "ok", "algorithm": "weighted"},
    {"name": "ok", "port": 18001, "hostname": "a.example.com"},
    {"name": "ok", "port": 0},
    {"name": "ok", "hostname": "not a host"},
    {"name": "ok", "hostname": "*.example.com"},
    {"name": "ok", "health_check": {"interval_seconds": 5, "timeout_seconds": 5}},
    {"name": "ok", "health_check": {"healthy_threshold": 1}},
    {"name": "ok", "health_check": {"matcher": "600"}},
    {"name": "ok", "health_check": {"path": "no-slash"}},
    {"name": "ok", "sticky": {"cookie_name": "a b"}},
    {"name": "ok", "deregistration_delay_seconds": 3601},
    {"name": "ok", "targets": [{"instance_id": "i", "port": 70000}]},
    {"name": "ok", "targets": [{"instance_id": "i", "port": 80, "weight": 1000}]},
    {"name": "ok", "targets": [{"instance_id": "i", "port": 80}, {"instance_id": "i", "port": 80}]},
    {"name": "ok", "targets": "all"},
    {"name": "ok", "surprise": 1},
    {"name": ["ok"]},
])
def test_invalid_bodies_are_400(user: Client, body: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as err:
        user.post("/loadbalancers", body)
    assert err.value.status == 400, err.value
    assert user.lb.list() == []


def test_garbage_is_never_a_500(server: LiveServer, user: Client) -> None:
    headers = {"X-API-Key": user.api_key or "", "Content-Type": "application/json"}
    for method, path, content in (("POST", "/loadbalancers", b"{not json"), ("POST", "/loadbalancers", b"[]"),
                                  ("PATCH", "/loadbalancers/x", b"{}"), ("POST", "/loadbalancers/x/targets", b"{}"),
                                  ("DELETE", "/loadbalancers/x/targets", b'{"targets": []}'),
                                  ("GET", "/loadbalancers/%00", b""), ("GET", "/loadbalancers/" + "a" * 3000, b"")):
        r = httpx.request(method, server.url + path, content=content, headers=headers)
        assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)


def test_load_balancer_quota(make_server: Callable[..., LiveServer]) -> None:
    live = make_server(quota_load_balancers=1)
    with register_and_login(live) as client:
        client.lb.create("first")
        with pytest.raises(ApiError) as err:
            client.lb.create("second")
        assert err.value.status == 403 and err.value.code == "QUOTA_EXCEEDED"
        assert "CUMULO_QUOTA_LOAD_BALANCERS" in err.value.message
        assert [x["name"] for x in client.lb.list()] == ["first"]
