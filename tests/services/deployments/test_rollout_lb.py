"""A rolling update behind a real load balancer (Caddy) under a closed-loop HTTP load: replicas
join the load balancer once healthy, the old ones drain before they go, no request fails."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from cumulo.client import Client
from cumulo.testing import eventually
from tests.services.deployments.conftest import LB_CHECK, containers, remove, settled, spec
from tests.services.lb.conftest import Front

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("deployments-lb")]


def test_an_update_under_load_through_the_load_balancer_loses_no_request(owner: Client) -> None:
    lb = owner.lb.create("deplb", health_check=LB_CHECK, deregistration_delay_seconds=3)
    dep = owner.deployments.create("front", replicas=3, load_balancer_id=lb["id"], **spec("v1"))
    front = Front(lb)
    results: list[tuple[int, str]] = []
    stop = threading.Event()

    def load() -> None:
        client = Front(lb)
        try:
            while not stop.is_set():
                try:
                    try:
                        r = client.get("/")
                    except httpx.RemoteProtocolError:  # a keep-alive connection closed by a config push
                        r = client.get("/")
                    results.append((r.status_code, r.text))
                except Exception as exc:  # noqa: BLE001 - a transport failure is a failed request too
                    results.append((0, repr(exc)))
        finally:
            client.close()

    workers = [threading.Thread(target=load) for _ in range(3)]
    try:
        d = settled(owner, dep["id"])
        assert all(m["in_load_balancer"] for m in d["members"])
        eventually(lambda: {t["instance_id"] for t in owner.lb.get(lb["id"])["targets"] if t["health"] == "healthy"}
                   == {m["instance_id"] for m in d["members"]}, 60, interval=0.2, what="targets healthy")
        eventually(lambda: set(front.names(12)) == {"v1"}, 30, what="served by v1")
        for w in workers:
            w.start()
        eventually(lambda: len(results) > 50, 30)
        owner.deployments.update(dep["id"], env=spec("v2")["env"])
        settled(owner, dep["id"], revision=2, timeout=180)
        eventually(lambda: results[-20:] and {t for _, t in results[-20:]} == {"v2"}, 60, what="v2 serving")
        stop.set()
        for w in workers:
            w.join()
        failed = [r for r in results if r[0] != 200]
        served = Counter(t for c, t in results if c == 200)
        print(f"{len(results)} requests during the rollout: {dict(served)}; failed {len(failed)}")
        assert not failed, failed[:5]
        assert served["v1"] and served["v2"]
        targets = owner.lb.get(lb["id"])["targets"]
        assert {t["instance_id"] for t in targets if t["health"] != "draining"} == \
            {m["instance_id"] for m in owner.deployments.get(dep["id"])["members"]}
        assert len(containers(dep["id"])) == 3
    finally:
        stop.set()
        for w in workers:
            if w.is_alive():
                w.join()
        front.close()
        remove(owner, dep["id"])
        owner.lb.delete(lb["id"])
