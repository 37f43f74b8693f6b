"""Rate-limit buckets, in memory and shared between processes through a mapped file."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from cumulo.api.ratelimit import RateLimiter, SharedBuckets
from cumulo.core.errors import RateLimited


def _count_allowed(limiter: RateLimiter, key: str, tries: int) -> int:
    allowed = 0
    for _ in range(tries):
        try:
            limiter.hit(key)
            allowed += 1
        except RateLimited:
            pass
    return allowed


@pytest.mark.parametrize("shared", [False, True])
def test_burst_then_refused_with_retry_after(tmp_path: Path, shared: bool) -> None:
    limiter = RateLimiter("5/minute", shared=tmp_path / "b.bin" if shared else None)
    assert _count_allowed(limiter, "k1", 8) == 5
    with pytest.raises(RateLimited) as err:
        limiter.hit("k1")
    assert 1 <= int(err.value.headers["Retry-After"]) <= 12
    assert _count_allowed(limiter, "k2", 3) == 3  # another key has its own bucket


def test_two_limiters_on_one_file_share_the_budget(tmp_path: Path) -> None:
    a = RateLimiter("10/minute", shared=tmp_path / "b.bin")
    b = RateLimiter("10/minute", shared=tmp_path / "b.bin")
    assert _count_allowed(a, "key", 6) + _count_allowed(b, "key", 10) == 10


def _worker(path: str, tries: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    out.put(_count_allowed(RateLimiter("100/hour", shared=Path(path)), "busy-key", tries))


def test_processes_hitting_one_key_at_once_get_the_limit_once(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "b.bin"), 400, out)) for _ in range(4)]
    for p in procs:
        p.start()
    total = sum(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(30)
    assert total == 100


def test_a_full_probe_window_gives_up_the_slot_touched_longest_ago(tmp_path: Path) -> None:
    class OneWindow(SharedBuckets):
        SLOTS, PROBE = 8, 8

    table = OneWindow(tmp_path / "b.bin")
    slow_refill = 1e-9  # an emptied bucket stays empty for the whole test
    assert table.take("oldest", 1.0, slow_refill, 1.0) == 0.0
    for i in range(8):  # seven fill the window, the eighth evicts "oldest"
        assert table.take(f"k{i}", 1.0, slow_refill, 2.0 + i) == 0.0
    assert table.take("k7", 1.0, slow_refill, 20.0) > 0  # remembered: its bucket is empty
    assert table.take("oldest", 1.0, slow_refill, 21.0) == 0.0  # forgotten: a full bucket again
    table.close()
