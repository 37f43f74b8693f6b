"""Auto-scaling groups on real Docker: a CPU-burning member scales the group out, and it scales back
in once the load stops (short evaluation, warm-up, cooldown and stabilisation settings)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker
import pytest

from cumulo.client import ApiError, Client
from cumulo.testing import eventually
from cumulo.testing.engine import containers as find_containers
from cumulo.testing.polling import eventually_served
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("autoscaling")]

# burns CPU while /tmp/burn exists, idles otherwise
BURN = ["sh", "-c", ("while true; do if [ -f /tmp/burn ]; then i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; "
        "else sleep 0.3; fi; done")]
TEMPLATE = {"image": "cumulo/busybox", "command": BURN, "cpus": 0.5, "memory_mb": 32}
QUICK = {"cooldown_seconds": 4, "warmup_seconds": 3, "scale_in_stabilization_seconds": 6}


@pytest.fixture(scope="module")
def asg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from cumulo.testing.server import test_settings

    live = LiveServer(test_settings(str(tmp_path_factory.mktemp("cumulo-asg")), autoscaling_eval_seconds=1.0,
                                    metrics_interval_seconds=1.0, compute_max_instances=4)).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def owner(asg_server: LiveServer) -> Iterator[Client]:
    with register_and_login(asg_server) as client:
        yield client


@pytest.fixture(scope="module")
def stranger(asg_server: LiveServer) -> Iterator[Client]:
    with register_and_login(asg_server) as client:
        yield client


def members(group_id: str) -> list[Any]:
    return find_containers(label=f"cumulo.group={group_id}")


def remove(client: Client, group_id: str) -> None:
    client.autoscaling.delete(group_id)
    eventually(lambda: group_id not in {g["id"] for g in client.autoscaling.list()} and not members(group_id), 60,
               interval=0.3, what="group removed")


def capacity(client: Client, group_id: str, n: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        g = client.autoscaling.get(group_id)
        return g if g["current_capacity"] == n and len(members(group_id)) == n else None

    return eventually(check, 90, interval=0.3, what=f"{n} members")


def test_cpu_load_scales_out_within_bounds_and_back_in(owner: Client) -> None:
    group = owner.autoscaling.create("burn", TEMPLATE, min_size=1, max_size=3,
                                     policies=[{"type": "target_tracking", "metric": "cpu_percent",
                                                "target_value": 5}], **QUICK)
    try:
        first = capacity(owner, group["id"], 1)["members"][0]
        docker.from_env().containers.get(members(group["id"])[0].id).exec_run(["touch", "/tmp/burn"])
        out = eventually(lambda: (g := owner.autoscaling.get(group["id"]))["desired_capacity"] >= 2 and g, 90,
                         interval=0.3, what="scale out")
        assert out["desired_capacity"] <= 3
        capacity(owner, group["id"], out["desired_capacity"])
        docker.from_env().containers.get(next(c.id for c in members(group["id"])
                                              if c.labels["cumulo.resource"] == first["instance_id"])
                                         ).exec_run(["rm", "-f", "/tmp/burn"])
        back = eventually(lambda: (g := owner.autoscaling.get(group["id"]))["desired_capacity"] == 1 and g, 120,
                          interval=0.3, what="scale in")
        capacity(owner, group["id"], 1)
        assert back["current_capacity"] == 1
        acts = owner.autoscaling.activities(group["id"])
        causes = [a["cause"] for a in acts]
        scale_out = next(a for a in reversed(acts) if a["description"].startswith("scale out"))
        assert "cpu_percent" in scale_out["cause"] and "ceil(1 x" in scale_out["cause"], causes
        scale_in = next(a for a in acts if a["description"].startswith("scale in"))
        assert "highest proposal of the last 6 s" in scale_in["cause"] and scale_in["to_capacity"] == 1, causes
        assert all(a["to_capacity"] <= 3 for a in acts)
    finally:
        remove(owner, group["id"])


def test_requests_per_target_through_the_load_balancer_scale_out_and_back_in(owner: Client) -> None:
    import threading

    from tests.services.lb.conftest import APP, IMAGE, Front

    lb = owner.lb.create("asglb", health_check={"path": "/health", "interval_seconds": 1, "timeout_seconds": 0.9,
                                                 "healthy_threshold": 2, "unhealthy_threshold": 3},
                         deregistration_delay_seconds=1)
    group = owner.autoscaling.create(
        "web", {"image": IMAGE, "command": ["python3", "-c", APP], "env": {"NAME": "web"}, "memory_mb": 64},
        min_size=1, max_size=2, load_balancer_id=lb["id"], target_port=8000,
        policies=[{"type": "target_tracking", "metric": "requests_per_target", "target_value": 3}], **QUICK)
    stop = threading.Event()
    codes: list[int] = []

    def load() -> None:
        front = Front(lb)
        try:
            while not stop.is_set():
                try:
                    codes.append(front.get("/").status_code)
                except Exception:  # noqa: BLE001 - counted as a failure
                    codes.append(0)
        finally:
            front.close()

    worker = threading.Thread(target=load)
    try:
        capacity(owner, group["id"], 1)
        eventually(lambda: owner.lb.get(lb["id"])["in_service"] == 1, 60, interval=0.3, what="member in service")
        probe = Front(lb)
        eventually_served(lambda: probe.get("/").status_code == 200, 60, interval=0.3, what="served through the proxy")
        probe.close()
        assert owner.autoscaling.get(group["id"])["members"][0]["in_load_balancer"]
        worker.start()
        out = eventually(lambda: (x := owner.autoscaling.get(group["id"]))["desired_capacity"] == 2 and x, 90,
                         interval=0.3, what="scale out on requests")
        capacity(owner, group["id"], 2)
        stop.set()
        worker.join()
        assert codes and codes.count(200) == len(codes), [c for c in codes if c != 200][:5]  # scale-out loses none
        eventually(lambda: owner.autoscaling.get(group["id"])["desired_capacity"] == 1, 120, interval=0.3,
                   what="scale in when the requests stop")
        cause = next(a["cause"] for a in owner.autoscaling.activities(group["id"])
                     if a["description"].startswith("scale out"))
        assert "requests_per_target" in cause and out["last_metrics"], cause
    finally:
        stop.set()
        if worker.is_alive():
            worker.join()
        remove(owner, group["id"])
        owner.lb.delete(lb["id"])


def test_manual_desired_bounds_quota_failures_and_healing(owner: Client) -> None:
    group = owner.autoscaling.create("manual", TEMPLATE, min_size=1, max_size=6, desired_capacity=2, **QUICK)
    try:
        g = capacity(owner, group["id"], 2)
        for bad in (0, 7):
            with pytest.raises(ApiError) as err:
                owner.autoscaling.set_desired(group["id"], bad)
            assert err.value.status == 400
        # a member killed behind Cumulo's back is replaced
        victim = g["members"][0]["instance_id"]
        next(c for c in members(group["id"]) if c.labels["cumulo.resource"] == victim).kill()
        eventually(lambda: victim not in {m["instance_id"] for m in owner.autoscaling.get(group["id"])["members"]}
                   and len(members(group["id"])) == 2, 60, interval=0.3, what="member replaced")
        assert any("was unhealthy" in a["cause"] for a in owner.autoscaling.activities(group["id"]))
        # the instance quota (4 here) stops a scale-out: a failed activity says why, no crash
        owner.autoscaling.set_desired(group["id"], 6)
        failed = eventually(lambda: [a for a in owner.autoscaling.activities(group["id"]) if a["status"] == "Failed"],
                            60, interval=0.3, what="failed activity")
        assert "quota" in failed[0]["description"].lower(), failed
        capacity(owner, group["id"], 4)
        owner.autoscaling.set_desired(group["id"], 1)
        capacity(owner, group["id"], 1)
    finally:
        remove(owner, group["id"])


def test_members_of_a_group_gone_behind_cumulos_back_are_removed(asg_server: LiveServer, owner: Client) -> None:
    from sqlalchemy import delete

    from cumulo.services.autoscaling.models import Activity, Group, Member

    group = owner.autoscaling.create("lost", TEMPLATE, min_size=1, max_size=1)
    capacity(owner, group["id"], 1)

    async def forget() -> None:  # what a crash between the two removals would leave
        async with asg_server.platform.db.session() as session:
            for model in (Member, Activity):
                await session.execute(delete(model).where(model.group_id == group["id"]))
            await session.execute(delete(Group).where(Group.id == group["id"]))
            await session.commit()

    asg_server.call(forget())
    eventually(lambda: not members(group["id"]), 60, interval=0.3, what="orphan members removed")
    assert owner.instances.list() == []


def test_bad_groups_are_400_with_nothing_created_and_another_users_group_is_404(owner: Client,
                                                                            stranger: Client) -> None:
    bad = [{"name": "x", "launch_template": TEMPLATE, "max_size": 2, "min_size": 3},
           {"name": "x", "launch_template": TEMPLATE, "max_size": 2, "desired_capacity": 5},
           {"name": "x", "launch_template": {**TEMPLATE, "env": {"CUMULO_A": "1"}}, "max_size": 2},
           {"name": "x", "launch_template": TEMPLATE, "max_size": 2,
            "policies": [{"type": "target_tracking", "metric": "requests_per_target", "target_value": 5}]},
           {"name": "x", "launch_template": TEMPLATE, "max_size": 2,
            "policies": [{"type": "target_tracking", "metric": "disk", "target_value": 5}]},
           {"name": "Bad Name", "launch_template": TEMPLATE, "max_size": 2},
           {"name": "x", "launch_template": TEMPLATE, "max_size": 100}]
    for body in bad:
        with pytest.raises(ApiError) as err:
            owner.post("/autoscaling/groups", body)
        assert err.value.status == 400, body
    with pytest.raises(ApiError) as err:
        owner.autoscaling.create("x", {**TEMPLATE, "image": "nope:1"}, max_size=2)
    assert err.value.status in (400, 404)
    assert owner.autoscaling.list() == [] and owner.instances.list() == []
    group = owner.autoscaling.create("mine", TEMPLATE, min_size=0, max_size=2, desired_capacity=0)
    try:
        for call in (lambda: stranger.autoscaling.get(group["id"]), lambda: stranger.autoscaling.get("mine"),
                     lambda: stranger.autoscaling.set_desired(group["id"], 1),
                     lambda: stranger.autoscaling.activities(group["id"]),
                     lambda: stranger.autoscaling.delete(group["id"])):
            with pytest.raises(ApiError) as err:
                call()
            assert err.value.status == 404
    finally:
        remove(owner, group["id"])
