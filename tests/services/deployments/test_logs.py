"""Deployment logs: every replica's lines merged in time order (Docker's timestamps), per replica."""

from __future__ import annotations

import itertools

import pytest

from cumulo.client import ApiError, Client
from cumulo.services.deployments.logs import merge, parse
from cumulo.testing import eventually
from tests.services.deployments.conftest import remove, settled
from tests.services.lb.conftest import IMAGE

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("deployments-logs")]

TICKS = 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.2; done'


def _key(stamp: str) -> tuple[str, str]:
    seconds, _, fraction = stamp.rstrip("Z").partition(".")
    return seconds, fraction.ljust(9, "0")


def test_times_are_parsed_not_compared_as_text() -> None:
    # Docker drops the fraction's trailing zeros: as text ".10Z" would sort after ".9Z"
    a = parse("2026-12-02T07:00:00.9Z a-first\n2026-12-02T07:00:01Z a-second\n")
    b = parse("2026-12-02T07:00:00.10Z b-first\ncontinued\n2026-12-02T07:00:00.95Z b-second\n")
    out = merge([("a", a), ("b", b)], 10, timestamps=False).splitlines()
    assert out == ["b | b-first", "b | continued", "a | a-first", "b | b-second", "a | a-second"]
    assert merge([("a", a), ("b", b)], 2, timestamps=True).splitlines() == [
        "2026-12-02T07:00:00.95Z b | b-second", "2026-12-02T07:00:01Z a | a-second"]
    assert merge([("a", [])], 5, timestamps=False) == ""


def test_logs_of_all_replicas_are_merged_by_time(owner: Client, stranger: Client) -> None:
    dep = owner.deployments.create("logs", replicas=2, image=IMAGE, command=["sh", "-c", TICKS], memory_mb=64,
                                   cpus=0.25)
    try:
        names = {m["name"] for m in settled(owner, dep["id"])["members"]}

        def both() -> list[str] | None:
            lines = owner.deployments.logs(dep["id"], tail=40, timestamps=True).splitlines()
            seen = {line.split(" ")[1] for line in lines}
            return lines if seen == names and len(lines) == 40 else None

        lines = eventually(both, 60, interval=0.5, what="both replicas' lines")
        times = [_key(line.split(" ")[0]) for line in lines]
        assert times == sorted(times)  # one timeline, not one replica's lines after the other's
        order = [line.split(" ")[1] for line in lines]
        assert sum(1 for x, y in itertools.pairwise(order) if x != y) >= 4  # interleaved
        one = min(names)
        mine = owner.deployments.logs(dep["id"], tail=5, replica=one).splitlines()
        assert len(mine) == 5 and all(line.startswith(f"{one} | tick ") for line in mine)
        with pytest.raises(ApiError) as err:
            owner.deployments.logs(dep["id"], replica="nobody")
        assert err.value.status == 404
        with pytest.raises(ApiError) as err:
            stranger.deployments.logs(dep["id"])
        assert err.value.status == 404
        with pytest.raises(ApiError) as err:
            owner.deployments.logs(dep["id"], tail=0)
        assert err.value.status in (400, 422)
    finally:
        remove(owner, dep["id"])
