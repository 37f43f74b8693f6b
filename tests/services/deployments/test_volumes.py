"""Per-replica volumes on real Docker: each slot's own volume, kept across a rollout, removed with
the deployment; specs that cannot work are 400 with nothing created."""

from __future__ import annotations

import pytest

from cumulo.client import ApiError, Client
from cumulo.testing import eventually
from tests.services.deployments.conftest import remove, settled

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("deployments-volumes")]

# prints what earlier replicas of its slot wrote to the volume, then adds its own revision's name
REMEMBER = ["sh", "-c", ('echo "had: $(cat /data/seen 2>/dev/null | tr "\\n" " ")"; echo "$NAME" >> /data/seen; '
                        "exec sleep 3600")]
STOP_FIRST = {"order": "stop-first", "max_unavailable": 1, "max_surge": 0}


def test_each_replica_keeps_its_own_volume_across_a_rollout(owner: Client) -> None:
    dep = owner.deployments.create("vols", replicas=2, image="cumulo/busybox", command=REMEMBER, env={"NAME": "v1"},
                                   memory_mb=32, volumes=[{"mount_path": "/data", "size_gb": 1}], update=STOP_FIRST)
    try:
        first = settled(owner, dep["id"])["members"]
        by_slot = {m["slot"]: m["volumes"][0]["volume_id"] for m in first}
        assert sorted(by_slot) == [0, 1] and len(set(by_slot.values())) == 2
        mine = {v["id"]: v for v in owner.volumes.list()}
        assert set(by_slot.values()) <= set(mine)
        assert {mine[by_slot[m["slot"]]]["instance_id"] for m in first} == {m["instance_id"] for m in first}
        owner.deployments.update(dep["id"], env={"NAME": "v2"})
        second = settled(owner, dep["id"], revision=2)["members"]
        assert {m["slot"]: m["volumes"][0]["volume_id"] for m in second} == by_slot  # the same volumes
        assert not {m["instance_id"] for m in second} & {m["instance_id"] for m in first}
        for m in second:  # each new replica found what its slot's v1 replica wrote (and nothing of the other's)
            logs = eventually(lambda m=m: owner.deployments.logs(dep["id"], replica=m["name"]).strip(), 30,
                              what="replica log")
            assert logs == f"{m['name']} | had: v1", logs
        with pytest.raises(ApiError) as err:  # a volume mounted by one replica at a time
            owner.deployments.update(dep["id"], update={"order": "start-first"})
        assert err.value.status == 400
    finally:
        remove(owner, dep["id"])
    left = {v["id"] for v in owner.volumes.list()}
    assert not left & set(by_slot.values())


def test_volume_specs_that_cannot_work_are_400_with_nothing_created(owner: Client) -> None:
    base = {"name": "badvol", "image": "cumulo/busybox", "command": ["sleep", "60"], "update": STOP_FIRST}
    for volumes, update in (([{"mount_path": "/data"}], {}), ([{"mount_path": "/etc"}], STOP_FIRST),
                            ([{"mount_path": "relative"}], STOP_FIRST),
                            ([{"mount_path": "/d"}, {"mount_path": "/d"}], STOP_FIRST),
                            ([{"mount_path": "/d", "size_gb": 0}], STOP_FIRST),
                            ([{"volume_id": "v", "mount_path": "/d"}], STOP_FIRST)):
        with pytest.raises(ApiError) as err:
            owner.post("/deployments", {**base, "volumes": volumes, "update": update})
        assert err.value.status == 400, volumes
    with pytest.raises(ApiError) as err:  # more GiB than the volume quota (2048 by default) holds
        owner.post("/deployments", {**base, "replicas": 3, "volumes": [{"mount_path": "/d", "size_gb": 1000}]})
    assert err.value.status == 403 and "volume quota" in err.value.message
    assert owner.deployments.list() == [] and owner.volumes.list() == []
