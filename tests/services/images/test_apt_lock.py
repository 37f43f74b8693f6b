"""Every apt call of the set-up waits for the apt lock another apt process holds, and says so.

The lock is held for real (an fcntl lock, as apt takes it) on a private lists directory, and
``apt-get update`` runs with no sources, so the test needs no mirror and leaves the system's apt alone.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cumulo.services.images import rootfs

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get")


def _private_update(tmp_path: Path) -> tuple[list[str], Path]:
    lists, empty = tmp_path / "lists", tmp_path / "empty"
    (lists / "partial").mkdir(parents=True)
    empty.mkdir()
    return ["update", "-qq", "-o", f"Dir::State::Lists={lists}", "-o", f"Dir::Etc::sourcelist={empty / 'none'}",
            "-o", f"Dir::Etc::sourceparts={empty}"], lists / "lock"


def _hold(lock: Path) -> int:
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o640)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    return fd


def test_bootstrap_apt_waits_for_the_lists_lock_and_says_so(tmp_path: Path) -> None:
    args, lock = _private_update(tmp_path)
    fd = _hold(lock)
    said: list[str] = []

    def say(line: str) -> None:  # release the lock once the wait has been announced
        said.append(line)
        os.close(fd)

    rootfs.apt_get(args, say, timeout=60)
    assert len(said) == 1 and f"waiting for {lock}" in said[0] and "held by process" in said[0]


def test_bootstrap_apt_gives_up_after_the_timeout_with_the_reason(tmp_path: Path) -> None:
    args, lock = _private_update(tmp_path)
    fd = _hold(lock)
    try:
        with pytest.raises(Exception, match="Could not get lock"):
            rootfs.apt_get(args, timeout=0)
    finally:
        os.close(fd)


def test_setup_script_waits_for_the_lists_lock_and_says_so(tmp_path: Path) -> None:
    args, lock = _private_update(tmp_path)
    fd = _hold(lock)
    proc = subprocess.Popen([str(ROOT / "scripts" / "apt-get.sh"), *args], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CUMULO_APT_LOCK_TIMEOUT": "120"})
    assert proc.stderr is not None
    first = proc.stderr.readline()
    os.close(fd)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 0
    assert f"waiting for {lock}" in first and "held by process" in first
    assert "Could not get lock" not in rest


def test_every_setup_script_uses_the_waiting_apt() -> None:
    for script in sorted((ROOT / "scripts").glob("ensure-*.sh")):
        for line in script.read_text().splitlines():
            assert "apt-get " not in line.replace("apt-get.sh", ""), f"{script.name}: {line.strip()}"
