"""Numbered session slots shared by every process of an installation on this host: a slot is a file
locked with ``flock`` for as long as its session lasts, so a cap holds across API processes and a
process that dies frees its slots with it (the kernel drops its locks)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


def take(folder: Path, limit: int) -> int | None:
    """An open, locked slot file of ``folder`` (one of ``limit``), or None when all are held."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for i in range(limit):
        fd = os.open(folder / f"slot-{i}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return fd
    return None


def release(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)  # the lock goes with the last descriptor of the open file
