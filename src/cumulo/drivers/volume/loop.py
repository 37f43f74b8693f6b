"""Size-limited block volumes: an ext4 file system in a sparse file, on a loop device.

Layout under ``root`` (``<data dir>/volumes``)::

    images/<id>.img      sparse file of exactly size_gb GiB holding an ext4 file system
    mnt/<id>/            where the loop device is mounted on the host
    mnt/<id>/fs/         the volume's contents; a Docker ``local`` volume binds this directory

The Docker volume binds ``mnt/<id>/fs``, a directory *inside* the file system: if the file system
is not mounted (after a reboot, before ``ensure``), the directory does not exist and Docker
refuses to start the container instead of silently writing to the host disk. Writes past the
size fail with ENOSPC inside the instance, because the file system is that big.

When loop devices cannot be used (no ``/dev/loop-control``, not root, a container without the
capability) the ``plain`` backend makes an ordinary Docker volume: data persists, the size is
not enforced, and the API says so (``size_enforced: false``).

Guarantees: ``create`` leaves nothing behind when it fails; ``destroy`` succeeds if the volume is
already (partly) gone and raises ``Conflict`` while a container uses it; ``ensure`` is idempotent.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import docker
from docker.errors import APIError, NotFound

from cumulo.core.errors import Conflict, CumuloError, Unavailable
from cumulo.drivers.dockerclient import LazyDocker, from_settings

T = TypeVar("T")
log = logging.getLogger("cumulo.volumes")
GIB = 1024 ** 3


class CommandFailed(Unavailable):
    pass


def run(*argv: str, timeout: float = 600) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CommandFailed(f"{argv[0]} failed: {exc}") from exc
    if done.returncode != 0:
        raise CommandFailed(f"{' '.join(argv[:2])} failed: {(done.stderr or done.stdout).strip()[:300]}")
    return done.stdout


def loop_available() -> bool:
    """Can this process attach loop devices and mount them? (root and /dev/loop-control)."""
    return os.geteuid() == 0 and os.path.exists("/dev/loop-control") and shutil.which("losetup") is not None \
        and shutil.which("mkfs.ext4") is not None


class LoopVolumes(LazyDocker):
    def __init__(self, root: Path, backend: str = "auto",
                 client_factory: Callable[[], docker.DockerClient] = from_settings):
        self.root = root
        self.backend = ("loop" if loop_available() else "plain") if backend == "auto" else backend
        self._volume_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        super().__init__(client_factory)

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def docker_name(vid: str) -> str:
        return f"cumulo-vol-{vid}"

    def image(self, vid: str) -> Path:
        return self.root / "images" / f"{vid}.img"

    def mountpoint(self, vid: str) -> Path:
        return self.root / "mnt" / vid

    def data_dir(self, vid: str, backend: str) -> Path:
        """Where the volume's files are on the host (snapshots read and write here)."""
        if backend == "loop":
            return self.mountpoint(vid) / "fs"
        attrs = self.client.api.inspect_volume(self.docker_name(vid))
        return Path(attrs["Mountpoint"])

    def _one_at_a_time(self, vid: str, fn: Callable[[], T]) -> Callable[[], T]:
        """``fn`` holding the volume's lock: the reconciler and a request never attach or mount one
        volume at the same time (two ``losetup -f`` on one image, or a mount racing an unmount)."""
        def locked() -> T:
            with self._locks_guard:
                lock = self._volume_locks.setdefault(vid, threading.Lock())
            with lock:
                return fn()
        return locked

    def refine(self, exc: Exception, what: str, text: str) -> CumuloError | None:
        if isinstance(exc, APIError) and "in use" in text.lower():
            return Conflict(f"{what}: the volume is in use by a container")
        return None

    async def _thread(self, what: str, fn: Callable[[], T]) -> T:
        return await self.in_thread(what, fn)

    def _loops(self, vid: str) -> list[str]:
        out = run("losetup", "-j", str(self.image(vid)), "-O", "NAME", "-n")
        return [line.strip() for line in out.splitlines() if line.strip()]

    def _ensure_docker_volume(self, vid: str, backend: str, labels: dict[str, str]) -> None:
        name = self.docker_name(vid)
        try:
            self.client.api.inspect_volume(name)
            return
        except NotFound:
            pass
        opts = {"type": "none", "o": "bind", "device": str(self.mountpoint(vid) / "fs")} if backend == "loop" else {}
        self.client.api.create_volume(name, driver="local", driver_opts=opts, labels=labels)

    def _ensure_mounted(self, vid: str) -> None:
        image, mnt = self.image(vid), self.mountpoint(vid)
        if not image.exists():
            raise Unavailable(f"volume {vid}: backing file {image} is missing")
        mnt.mkdir(parents=True, exist_ok=True)
        if os.path.ismount(mnt):
            return
        loops = self._loops(vid)
        device = loops[0] if loops else run("losetup", "-f", "--show", str(image)).strip()
        run("mount", "-t", "ext4", device, str(mnt))

    # --- the contract ----------------------------------------------------------------------------
    async def create(self, vid: str, size_gb: int, labels: dict[str, str]) -> str:
        backend = self.backend

        def make() -> str:
            try:
                if backend == "loop":
                    image = self.image(vid)
                    image.parent.mkdir(parents=True, exist_ok=True)
                    with os.fdopen(os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                        f.truncate(size_gb * GIB)  # the tenant's disk: owner-only
                    run("mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1",
                        "-L", vid[:16], str(image))
                    self._ensure_mounted(vid)
                    (self.mountpoint(vid) / "fs").mkdir(mode=0o755, exist_ok=True)
                self._ensure_docker_volume(vid, backend, labels)
            except BaseException:
                self._destroy(vid)
                raise
            return backend
        return await self._thread(f"creating volume {vid}", self._one_at_a_time(vid, make))

    async def ensure(self, vid: str, backend: str, labels: dict[str, str]) -> None:
        """After a reboot or a Docker reset: re-attach the loop device, re-mount, re-create the Docker volume."""
        def heal() -> None:
            if backend == "loop":
                self._ensure_mounted(vid)
            self._ensure_docker_volume(vid, backend, labels)
        await self._thread(f"restoring volume {vid}", self._one_at_a_time(vid, heal))

    def _destroy(self, vid: str) -> None:
        try:
            self.client.api.remove_volume(self.docker_name(vid))
        except NotFound:
            pass
        mnt = self.mountpoint(vid)
        if os.path.ismount(mnt):
            run("umount", str(mnt))
        if self.image(vid).exists():
            for device in self._loops(vid):
                run("losetup", "-d", device)
            self.image(vid).unlink()
        if mnt.exists():
            mnt.rmdir()

    async def destroy(self, vid: str) -> None:
        await self._thread(f"deleting volume {vid}", self._one_at_a_time(vid, lambda: self._destroy(vid)))

    async def snapshot(self, vid: str, backend: str, dest: Path) -> int:
        """Archive the volume's files (crash-consistent, like a cloud snapshot of a live disk)."""
        def archive() -> int:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(".partial")
            if backend == "loop":
                self._ensure_mounted(vid)
            try:
                run("tar", "-C", str(self.data_dir(vid, backend)), "--numeric-owner", "-czf", str(tmp), ".")
                os.chmod(tmp, 0o600)  # a tenant's files: owner-only, like the data dir
                tmp.rename(dest)
            finally:
                tmp.unlink(missing_ok=True)
            return dest.stat().st_size
        return await self._thread(f"snapshotting volume {vid}", self._one_at_a_time(vid, archive))

    async def restore(self, vid: str, backend: str, archive: Path) -> None:
        def unpack() -> None:
            if not archive.exists():
                raise Unavailable(f"snapshot archive {archive.name} is missing")
            run("tar", "-C", str(self.data_dir(vid, backend)), "--numeric-owner", "-xzpf", str(archive))
        await self._thread(f"restoring into volume {vid}", unpack)

    async def labelled(self, labels: dict[str, str]) -> list[str]:
        def find() -> list[str]:
            filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
            return [v["Name"] for v in (self.client.api.volumes(filters=filters).get("Volumes") or [])]
        return await self._thread("listing volumes", find)
