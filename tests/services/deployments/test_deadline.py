"""A rollout that makes no progress within update.progress_deadline_seconds fails: rolled back
(the old replica kept serving) or paused, with the reason on the deployment and an event."""

from __future__ import annotations

import pytest

from cumulo.client import ApiError, Client
from cumulo.testing import eventually
from tests.services.deployments.conftest import remove, settled

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("deployments-deadline")]

OK = {"command": "true", "interval_seconds": 1, "timeout_seconds": 1, "retries": 2}
# never passes, and its failures never count (inside the start period): the replica stays starting
STUCK = {"command": "false", "interval_seconds": 1, "timeout_seconds": 1, "retries": 2,
         "start_period_seconds": 3600}


def test_a_stalled_rollout_is_rolled_back_or_paused_at_its_deadline(owner: Client) -> None:
    dep = owner.deployments.create("stall", replicas=1, image="cumulo/busybox", command=["sleep", "3600"],
                                   memory_mb=32, health_check=OK)
    try:
        old = settled(owner, dep["id"])["members"][0]["instance_id"]
        with pytest.raises(ApiError) as err:
            owner.deployments.update(dep["id"], update={"progress_deadline_seconds": 0})
        assert err.value.status == 400
        owner.deployments.update(dep["id"], health_check=STUCK, update={"progress_deadline_seconds": 3})

        def back() -> dict | None:
            now = owner.deployments.get(dep["id"])
            return now if now["revision"] == 1 and now["status"] == "RUNNING" else None

        d = eventually(back, 60, interval=0.3, what="rolled back at the deadline")
        assert "revision 2 failed: no progress within 3 s" in d["status_reason"]
        assert [m["instance_id"] for m in d["members"]] == [old]  # the old replica kept serving
        revs = {r["number"]: r for r in owner.deployments.revisions(dep["id"])}
        assert revs[2]["status"] == "failed" and revs[2]["reason"].startswith("no progress")
        actions = [e["action"] for e in owner.deployments.events(dep["id"])]
        assert "deployment.rollout_deadline_exceeded" in actions and "deployment.rollout_failed" in actions
        # failure_action pause: stops there, the old replica still serving beside the stuck one
        owner.deployments.update(dep["id"], health_check=STUCK,
                                 update={"progress_deadline_seconds": 3, "failure_action": "pause"})
        p = eventually(lambda: (now := owner.deployments.get(dep["id"]))["status"] == "PAUSED" and now, 60,
                       interval=0.3, what="paused at the deadline")
        assert p["revision"] == 3 and "no progress within 3 s" in p["status_reason"]
        assert "rollout paused" in p["status_reason"]
        assert {m["instance_id"]: m["state"] for m in p["members"]}[old] == "healthy"
        assert "deployment.rollout_paused" in [e["action"] for e in owner.deployments.events(dep["id"])]
    finally:
        remove(owner, dep["id"])


def test_a_first_revision_past_its_deadline_keeps_trying_and_says_so(owner: Client) -> None:
    dep = owner.deployments.create("stall-first", replicas=1, image="cumulo/busybox", command=["sleep", "3600"],
                                   memory_mb=32, health_check=STUCK, update={"progress_deadline_seconds": 2})
    try:
        d = eventually(lambda: "no earlier revision" in ((now := owner.deployments.get(dep["id"]))["status_reason"]
                                                         or "") and now, 60, interval=0.3, what="stalled")
        assert "revision 1 failed: no progress within 2 s" in d["status_reason"] and d["revision"] == 1
        assert not d["paused"] and len(d["members"]) == 1  # still there, still trying
        actions = [e["action"] for e in owner.deployments.events(dep["id"])]
        assert actions.count("deployment.rollout_stalled") == 1
    finally:
        remove(owner, dep["id"])
