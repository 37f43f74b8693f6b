"""Deployments on real Docker: replicas counted from Docker, healed, scaled, rolled back."""

from __future__ import annotations

import pytest

from cumulo.client import ApiError, Client
from cumulo.testing import eventually
from tests.services.deployments.conftest import containers, remove, settled, spec

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("deployments")]


def test_a_killed_replica_is_replaced_and_scale_follows_docker(owner: Client) -> None:
    dep = owner.deployments.create("heal", replicas=2, **spec())
    try:
        d = settled(owner, dep["id"])
        assert len(containers(dep["id"])) == 2
        assert all(m["state"] == "healthy" and m["address"] for m in d["members"])
        victim = d["members"][0]
        next(c for c in containers(dep["id"]) if c.labels["cumulo.resource"] == victim["instance_id"]).kill()

        def replaced() -> dict | None:
            now = owner.deployments.get(dep["id"])
            ids = {m["instance_id"] for m in now["members"]}
            ok = now["status"] == "RUNNING" and now["ready_replicas"] == 2 and victim["instance_id"] not in ids
            return now if ok else None

        healed = eventually(replaced, 60, interval=0.2, what="killed replica replaced")
        assert sorted(m["restarts"] for m in healed["members"]) == [0, 1]
        assert len(containers(dep["id"])) == 2
        actions = [e["action"] for e in owner.deployments.events(dep["id"])]
        assert "deployment.replica_failed" in actions and actions.count("deployment.replica_started") >= 3
        # removing a replica's container behind Cumulo's back: replaced too
        gone = healed["members"][1]
        next(c for c in containers(dep["id"]) if c.labels["cumulo.resource"] == gone["instance_id"]).remove(force=True)
        def healed_again() -> bool:
            now = owner.deployments.get(dep["id"])
            return now["ready_replicas"] == 2 and gone["instance_id"] not in {m["instance_id"] for m in now["members"]}

        eventually(healed_again, 60, interval=0.2, what="removed replica replaced")
        # scale up, down, to zero (stopped) and back
        owner.deployments.scale(dep["id"], 3)
        settled(owner, dep["id"], ready=3)
        assert len(containers(dep["id"])) == 3
        owner.deployments.scale(dep["id"], 0)
        eventually(lambda: owner.deployments.get(dep["id"])["status"] == "STOPPED" and not containers(dep["id"]),
                   60, interval=0.2, what="stopped")
        owner.deployments.scale(dep["id"], 1)
        settled(owner, dep["id"], ready=1)
        one = owner.deployments.get(dep["id"])["members"][0]["name"]
        logs = eventually(lambda: owner.deployments.logs(dep["id"]), 30, what="logs")
        assert f"{one} | started v1" in logs.splitlines()
        assert owner.deployments.logs(dep["id"], replica=one).strip() == f"{one} | started v1"
    finally:
        remove(owner, dep["id"])


def test_an_update_failing_its_health_check_rolls_back_and_old_replicas_keep_serving(owner: Client) -> None:
    dep = owner.deployments.create("roll", replicas=2, **spec("v1"))
    try:
        before = {m["instance_id"] for m in settled(owner, dep["id"])["members"]}
        # revision 2 answers, but its /health is 500 from the start
        owner.deployments.update(dep["id"], command=spec("v2", sick=True)["command"])
        def rolled_back() -> dict | None:
            now = owner.deployments.get(dep["id"])
            return now if now["revision"] == 1 and now["status"] == "RUNNING" else None

        d = eventually(rolled_back, 90, interval=0.2, what="rolled back")
        assert "revision 2 failed" in (d["status_reason"] or "") and "health check" in d["status_reason"]
        assert {m["instance_id"] for m in d["members"]} == before  # the old replicas never went
        revs = {r["number"]: r for r in owner.deployments.revisions(dep["id"])}
        assert revs[2]["status"] == "failed" and "health check" in revs[2]["reason"]
        assert revs[1]["status"] == "rolling" or revs[1]["status"] == "complete"
        assert len(containers(dep["id"])) == 2
        assert "deployment.rollout_failed" in [e["action"] for e in owner.deployments.events(dep["id"])]
        # an image that does not exist (or is not the caller's) is refused: nothing changes
        with pytest.raises(ApiError) as err:
            owner.deployments.update(dep["id"], image="no-such-image:1")
        assert err.value.status in (400, 404) and owner.deployments.get(dep["id"])["revision"] == 1
        # a good update rolls out, replacing every replica; rollback goes back to revision 2's predecessor
        owner.deployments.update(dep["id"], env=spec("v3")["env"])
        d3 = settled(owner, dep["id"], revision=3)
        assert not {m["instance_id"] for m in d3["members"]} & before
        owner.deployments.rollback(dep["id"])
        d4 = settled(owner, dep["id"], revision=1)
        assert d4["spec"]["env"]["NAME"] == "v1"
    finally:
        remove(owner, dep["id"])


def test_a_replica_crashing_at_start_is_restarted_with_backoff(owner: Client) -> None:
    dep = owner.deployments.create("crash", replicas=1, image="cumulo/busybox", command=["sh", "-c", "exit 3"],
                                   memory_mb=32)
    try:
        def looping() -> dict | None:
            now = owner.deployments.get(dep["id"])
            failures = [e for e in owner.deployments.events(dep["id"]) if e["action"] == "deployment.replica_failed"]
            restarts = max((e["data"]["restarts"] for e in failures), default=0)
            looped = "failing repeatedly" in (now["status_reason"] or "") and restarts >= 2
            return now if looped and all("stopped" in e["data"]["reason"] for e in failures) else None

        d = eventually(looping, 60, interval=0.2, what="crash loop seen")
        assert d["status"] in ("DEGRADED", "SCALING") and d["ready_replicas"] <= 1
        assert len(containers(dep["id"])) <= 1
    finally:
        remove(owner, dep["id"])


def test_bad_specs_are_400_and_create_nothing(owner: Client, stranger: Client) -> None:
    bad = [
        {"name": "Bad Name", **spec()},
        {"name": "x", **spec(), "replicas": -1},
        {"name": "x", **spec(), "replicas": 1000},
        {"name": "x", **spec(), "health_check": {"port": 8000}},
        {"name": "x", **spec(), "health_check": {"http_path": "/", "command": "true"}},
        {"name": "x", **spec(), "update": {"max_surge": 0, "max_unavailable": 0}},
        {"name": "x", **spec(), "env": {"CUMULO_X": "1"}},
        {"name": "x", **spec(), "volumes": [{"volume_id": "v", "mount_path": "/data"}]},
        {"name": "x", **spec(), "ports": [], "health_check": {"command": "true"}, "load_balancer_id": "lb"},
    ]
    for body in bad:
        with pytest.raises(ApiError) as err:
            owner.post("/deployments", body)
        assert err.value.status == 400, body
    for body, status in (({"name": "x", **spec(), "image": "no-such-image:1"}, 404),
                         ({"name": "x", **spec(), "load_balancer_id": "missing"}, 404),
                         ({"name": "x", **spec(), "vpc_id": "missing"}, 404)):
        with pytest.raises(ApiError) as err:
            owner.post("/deployments", body)
        assert err.value.status in (400, 404), (body, err.value)
    assert owner.deployments.list() == []
    assert owner.instances.list() == []
    # another user's deployment is 404 everywhere
    dep = owner.deployments.create("mine", replicas=0, **spec())
    try:
        for call in (lambda: stranger.deployments.get(dep["id"]), lambda: stranger.deployments.scale(dep["id"], 2),
                     lambda: stranger.deployments.update(dep["id"], env={"A": "b"}),
                     lambda: stranger.deployments.rollback(dep["id"]), lambda: stranger.deployments.logs(dep["id"]),
                     lambda: stranger.deployments.delete(dep["id"]), lambda: stranger.deployments.get("mine")):
            with pytest.raises(ApiError) as err:
                call()
            assert err.value.status == 404
        with pytest.raises(ApiError) as err:
            owner.deployments.create("mine", replicas=0, **spec())
        assert err.value.status == 409
        with pytest.raises(ApiError) as err:  # more replicas than the instance quota allows
            owner.deployments.scale(dep["id"], 50)
        assert err.value.status == 403
    finally:
        remove(owner, dep["id"])
