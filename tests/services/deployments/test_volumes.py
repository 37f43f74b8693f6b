"""Per-replica volumes on real Docker: each slot's own volume, kept across a rollout, a healed
replica and a scale-down (mounted again by the scale-up), removed with the deployment or kept when
asked; specs that cannot work are 400 with nothing created."""

from __future__ import annotations

import pytest

from cumulo.client import ApiError, Client
from cumulo.testing import eventually
from tests.services.deployments.conftest import containers, remove, settled

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
    for volumes, update in (([{"mount_path": "/data"}], {"order": "start-first"}),
                            ([{"mount_path": "/data"}], {"max_unavailable": 0}),
                            ([{"mount_path": "/data", "size_gb": 2000}], STOP_FIRST),  # > CUMULO_VOLUME_MAX_SIZE_GB
                            ([{"mount_path": "/etc"}], STOP_FIRST),
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


def _logged(client: Client, dep_id: str, replica: str) -> str:
    return eventually(lambda: client.deployments.logs(dep_id, replica=replica).strip(), 30, what="replica log")


def test_a_slot_gets_its_volume_back_after_a_heal_and_a_scale_down_and_delete_can_keep_them(owner: Client) -> None:
    import docker

    dep = owner.deployments.create("slots", replicas=2, image="cumulo/busybox", command=REMEMBER,
                                   env={"NAME": "v1"}, memory_mb=32, volumes=[{"mount_path": "/data"}])
    assert dep["update"]["order"] == "stop-first" and dep["update"]["max_unavailable"] == 1  # forced, not 400
    by_slot: dict[int, str] = {}
    try:
        first = settled(owner, dep["id"])["members"]
        by_slot = {m["slot"]: m["volumes"][0]["volume_id"] for m in first}
        assert sorted(by_slot) == [0, 1]
        # a killed replica: its replacement mounts its slot's volume and finds what the dead one wrote
        victim = next(m for m in first if m["slot"] == 0)
        docker.from_env().containers.list(filters={"label": f"cumulo.resource={victim['instance_id']}"})[0].kill()

        def healed() -> dict | None:
            now = owner.deployments.get(dep["id"])
            zero = [m for m in now["members"] if m["slot"] == 0 and m["instance_id"] != victim["instance_id"]]
            return zero[0] if zero and zero[0]["state"] == "healthy" else None

        zero = eventually(healed, 90, interval=0.3, what="slot 0 replaced")
        assert zero["volumes"][0]["volume_id"] == by_slot[0] and zero["restarts"] >= 1
        assert _logged(owner, dep["id"], zero["name"]) == f"{zero['name']} | had: v1"
        # scale down: the highest slot goes, its volume stays (detached, still the owner's)
        owner.deployments.scale(dep["id"], 1)
        one = settled(owner, dep["id"])
        assert [m["slot"] for m in one["members"]] == [0]
        assert {(v["slot"], v["volume_id"]) for v in one["slot_volumes"]} == set(by_slot.items())
        eventually(lambda: {v["id"]: v for v in owner.volumes.list()}[by_slot[1]]["instance_id"] is None, 30,
                   what="slot 1's volume detached")
        # scale up again: slot 1 comes back with its own volume and what was written on it
        owner.deployments.scale(dep["id"], 2)
        two = settled(owner, dep["id"])["members"]
        back = next(m for m in two if m["slot"] == 1)
        assert back["volumes"][0]["volume_id"] == by_slot[1]
        assert _logged(owner, dep["id"], back["name"]) == f"{back['name']} | had: v1"
        assert len(owner.volumes.list()) == 2  # no volume made twice
        # delete keeping the volumes: they stay the owner's, detached, deletable like any other
        owner.deployments.delete(dep["id"], keep_volumes=True)
        eventually(lambda: dep["id"] not in {d["id"] for d in owner.deployments.list()} and not containers(dep["id"]),
                   90, interval=0.3, what="deployment removed")
        mine = {v["id"]: v for v in owner.volumes.list()}
        assert set(by_slot.values()) <= set(mine)
        assert all(mine[v]["instance_id"] is None for v in by_slot.values())
        for volume_id in by_slot.values():
            owner.volumes.delete(volume_id)
    finally:
        if dep["id"] in {d["id"] for d in owner.deployments.list()}:
            remove(owner, dep["id"])
        for volume_id in set(by_slot.values()) & {v["id"] for v in owner.volumes.list()}:
            owner.volumes.delete(volume_id)
    assert owner.volumes.list() == []
