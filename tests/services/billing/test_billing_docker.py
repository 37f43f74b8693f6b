"""Billing of a real container (Docker), with the server's test clock: three hours of a 2-vCPU
2 GiB instance cost 3.3 credits; at zero balance launches are refused and, after the grace
period, the running instance is stopped, not deleted, and keeps its files."""

from __future__ import annotations

import uuid

import pytest

from cumulo.client import ApiError
from cumulo.testing import eventually
from tests.services.billing.conftest import Billed

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("billing-docker")]
HOUR = 3600


def test_a_container_is_billed_by_its_running_time_and_stopped_at_zero(billed_sqlite: Billed) -> None:
    billed = billed_sqlite
    client, user_id = billed.user("free")  # 15 credits, at most 2 vCPUs and 2 GB
    admin = billed.admin()
    billed.to_next_hour()
    name = f"billed-{uuid.uuid4().hex[:6]}"
    inst = client.instances.launch(name, "cumulo/busybox", command=["sleep", "100000"], cpus=2, memory_mb=2048)
    try:
        assert client.instances.wait(inst["id"], {"RUNNING"}, timeout=120)["status"] == "RUNNING"
        assert client.instances.exec(inst["id"], ["sh", "-c", "echo kept > /root/data"])["exit_code"] == 0
        billed.advance(3 * HOUR)
        client.instances.stop(inst["id"])
        assert client.instances.wait(inst["id"], {"STOPPED"}, timeout=120)["status"] == "STOPPED"
        billed.advance(2 * HOUR)  # stopped: nothing to pay
        billed.close_day()
        billed.meter()
        billed.meter()
        lines = client.billing.transactions(kind="charge")
        assert round(-sum(e["amount"] for e in lines), 6) == 3.3
        assert {e["resource_id"] for e in lines} == {inst["id"]}

        client.instances.start(inst["id"])
        assert client.instances.wait(inst["id"], {"RUNNING"}, timeout=120)["status"] == "RUNNING"
        billed.advance(11 * HOUR)  # 3.3 + 12.1 > 15
        billed.meter()
        assert client.billing.balance()["exhausted"]
        with pytest.raises(ApiError) as err:
            client.instances.launch(f"more-{uuid.uuid4().hex[:6]}", "cumulo/busybox", command=["sleep", "60"],
                                    cpus=0.5, memory_mb=128)
        assert err.value.status == 402 and err.value.code == "INSUFFICIENT_CREDITS"
        assert client.instances.get(inst["id"])["status"] == "RUNNING"  # the grace period
        billed.advance(601)
        billed.meter()
        eventually(lambda: client.instances.get(inst["id"])["status"] == "STOPPED", timeout=120,
                   what="the instance to be stopped")
        assert client.billing.balance()["suspended"]
        events = [e["action"] for e in client.get("/events", params={"limit": 100})]
        assert "billing.exhausted" in events and "billing.suspended" in events

        admin.billing.grant(user_id, 20, "top-up")
        billed.meter()
        assert not client.billing.balance()["exhausted"]
        client.instances.start(inst["id"])
        assert client.instances.wait(inst["id"], {"RUNNING"}, timeout=120)["status"] == "RUNNING"
        assert client.instances.exec(inst["id"], ["cat", "/root/data"])["stdout"].strip() == "kept"
    finally:
        client.instances.terminate(inst["id"])
