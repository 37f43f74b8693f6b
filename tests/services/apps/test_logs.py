"""Log follow helpers on their own: time keys sort as the engine wrote the lines, the per-user cap."""

from __future__ import annotations

import types

import pytest

from cumulo.core.errors import RateLimited
from cumulo.services.apps import logs


def test_keys_sort_in_time_order_whatever_digits_docker_trimmed() -> None:
    stamps = ["2026-12-02T07:58:36.123456789Z", "2026-12-02T07:58:36.5Z", "2026-12-02T07:58:36.12Z",
              "2026-12-02T07:58:37Z", "2026-12-02T07:58:36.1234Z"]
    ordered = sorted(stamps, key=logs._key)
    assert ordered == ["2026-12-02T07:58:36.12Z", "2026-12-02T07:58:36.1234Z", "2026-12-02T07:58:36.123456789Z",
                       "2026-12-02T07:58:36.5Z", "2026-12-02T07:58:37Z"]


def test_at_most_max_follows_per_user_and_a_closed_one_frees_its_slot() -> None:
    platform = types.SimpleNamespace(extras={})
    held = [logs.slot(platform, "u1") for _ in range(logs.MAX_FOLLOWS)]  # type: ignore[arg-type]
    for ctx in held:
        ctx.__enter__()
    with pytest.raises(RateLimited):
        logs.check_slot(platform, "u1")  # type: ignore[arg-type]
    logs.check_slot(platform, "u2")  # type: ignore[arg-type]  # another user is not counted
    held[0].__exit__(None, None, None)
    logs.check_slot(platform, "u1")  # type: ignore[arg-type]
    for ctx in held[1:]:
        ctx.__exit__(None, None, None)
    assert platform.extras["apps.follows"] == {}
