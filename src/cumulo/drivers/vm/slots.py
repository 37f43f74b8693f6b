"""Numbered session slots shared by every process of an installation on this host: a slot is a file
locked with ``flock`` for as long as its session lasts, so a cap holds across API processes and a
process that dies frees its slots with it (the kernel drops its locks). ``take_screen`` caps the VNC
screens (a VM's display, a ``cumulo/desktop`` container's desktop) per screen and per user, under
``screen_root``; ``forget_screen`` removes a screen's slot files once its instance is deleted."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from pathlib import Path

from cumulo.core.errors import RateLimited


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


def screen_root(data_dir: Path) -> Path:
    """Where the VNC screen slots of an installation with this data directory are."""
    return data_dir.resolve() / "vnc-slots"


def _folder(root: Path, kind: str, key: str) -> Path:
    return root / kind / hashlib.sha256(key.encode()).hexdigest()[:16]


def forget_screen(root: Path, screen: str) -> None:
    """Remove ``screen``'s slot files (its instance is gone; a session still open keeps its lock on
    the unlinked file until it ends, and a screen of that id is never opened again)."""
    shutil.rmtree(_folder(root, "screens", screen), ignore_errors=True)


def release(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)  # the lock goes with the last descriptor of the open file


def take_screen(root: Path, user_id: str, per_user: int, screen: str, per_screen: int,
                what: str = "screen") -> tuple[int, int]:
    """Two held slots for a VNC screen session: one of the user's ``per_user`` (over all their
    screens) and one of ``screen``'s ``per_screen``, under ``root``; ``RateLimited`` (429) when
    either cap is reached (nothing held then). ``what`` names the screen in the message (a VM, an
    instance). Give them back with ``release``."""
    mine = take(_folder(root, "users", user_id), per_user)
    if mine is None:
        raise RateLimited(10, f"you have {per_user} VNC screens open already (CUMULO_VM_VNC_SESSIONS_PER_USER): "
                              "close one first")
    this = take(_folder(root, "screens", screen), per_screen)
    if this is None:
        release(mine)
        raise RateLimited(10, f"this {what} has {per_screen} VNC screens open already "
                              "(CUMULO_VM_VNC_SESSIONS_PER_VM): close one first")
    return mine, this
