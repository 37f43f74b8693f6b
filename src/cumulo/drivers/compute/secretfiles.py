"""Secret files of containers on a host tmpfs (never on disk, never in the engine's container config).

Layout: ``<root>/<container name>/<NAME>``, bind-mounted read-only at ``/run/secrets`` in the
container. ``root`` (e.g. ``/dev/shm/cumulo-0/<installation>``) and its parent are 0700 and owned
by this process's user, so no other local user can reach the files; inside, the container's own
directory is 0755 and the files 0444, so the container's processes (whatever user they run as) can
read them. A pre-existing root that is a symlink, owned by someone else or open to others is
refused (``Unavailable``), never used.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path

from cumulo.core.errors import Unavailable

# Exports every file of /run/secrets as an environment variable of the main process, then runs the
# image's entrypoint and command ("$@"). A trailing "x" keeps trailing newlines of a value.
WRAPPER = ('for f in /run/secrets/*; do [ -f "$f" ] || continue; n=${f##*/}; v=$(cat "$f"; printf x); '
           'export "$n=${v%x}"; done; exec "$@"')


def default_root(installation_id: str, configured: str | None) -> Path:
    base = Path(configured) if configured else Path(f"/dev/shm/cumulo-{os.getuid()}")
    return base / installation_id


def _private_dir(path: Path) -> None:
    """Create ``path`` 0700, or check that the existing one is a real directory of ours, 0700."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise Unavailable(f"refusing to keep instance secrets in {path}: it must be a directory owned by uid "
                          f"{os.getuid()} with mode 0700 (set CUMULO_INSTANCE_SECRETS_DIR)")


def write(root: Path, container: str, files: dict[str, str]) -> Path:
    """(Re)write the container's files; returns the directory to bind-mount."""
    try:
        return _write(root, container, files)
    except OSError as exc:
        raise Unavailable(f"cannot write instance secrets under {root} ({exc.strerror}): set "
                          "CUMULO_INSTANCE_SECRETS_DIR to a tmpfs directory") from None


def _write(root: Path, container: str, files: dict[str, str]) -> Path:
    _private_dir(root.parent)
    _private_dir(root)
    folder = root / container
    folder.mkdir(mode=0o755, exist_ok=True)
    os.chmod(folder, 0o755)
    for name in os.listdir(folder):
        if name not in files:
            os.unlink(folder / name)
    for name, value in files.items():
        temp = folder / f".{name}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o444)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
        os.replace(temp, folder / name)
    return folder


def remove(root: Path, container: str) -> None:
    if container and "/" not in container and container not in (".", ".."):
        shutil.rmtree(root / container, ignore_errors=True)


def prune(root: Path, keep: set[str], min_age: float = 300.0) -> None:
    """Remove every container folder under ``root`` not named in ``keep`` and untouched for
    ``min_age`` seconds (a folder written for a container being created right now stays)."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    now = time.time()
    for name in names:
        try:
            fresh = now - (root / name).lstat().st_mtime < min_age
        except OSError:
            continue
        if name not in keep and not fresh:
            remove(root, name)
