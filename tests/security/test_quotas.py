"""Per-user quotas (issue 10 point 7): every kind a user can multiply is capped, race-safely, and
reported by ``GET /quotas``."""

from __future__ import annotations

from cumulo.client import Client


def _by_kind(client: Client) -> dict[str, dict]:
    return {q["kind"]: q for q in client.get("/quotas")}


def test_quotas_report_instances_and_volumes(user: Client) -> None:
    quotas = _by_kind(user)
    assert quotas["instances"]["used"] == 0 and quotas["instances"]["limit"] == 10
    assert quotas["instances"]["setting"] == "CUMULO_COMPUTE_MAX_INSTANCES"
    assert quotas["instance_vcpus"]["unit"] == "vCPUs"
    assert quotas["volume_gib"]["limit"] == 2048 and quotas["volume_gib"]["setting"] == "CUMULO_VOLUME_QUOTA_GB"
