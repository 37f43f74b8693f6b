"""Root filesystems for the two base images, and the archive that turns one into an image.

``image_archive`` wraps a root-filesystem tar in Docker's save format with a fixed config
(``created`` at a fixed epoch, ``diff_ids`` from the tar's hash), so loading the same tar twice
gives the same image id and the build cache of every child image survives a rebuild.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from cumulo.core.errors import Unavailable
from cumulo.services.images.recipes import EPOCH, SUITE

BUSYBOX = Path("/bin/busybox")
MIRROR = os.environ.get("CUMULO_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("CUMULO_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_LOCK_ERROR = re.compile(r"(?:Could not get lock|Unable to acquire the dpkg frontend lock) \(?([^ ,)]+?)\)?[.,]?(?:\s|$)")
_LOCK_HOLDER = re.compile(r"held by process \d+ \([^)]*\)")
log = logging.getLogger("cumulo.images")


def _is_static(path: Path) -> bool:
    head = path.read_bytes()[:8192]
    return head.startswith(b"\x7fELF") and b"ld-linux" not in head


def apt_get(args: list[str], say: Callable[[str], None] = lambda line: None,
            timeout: float | None = None) -> None:
    """``apt-get ARGS``, waiting for the dpkg/apt locks (another apt, e.g. unattended upgrades) and
    saying what it waits for. ``DPkg::Lock::Timeout`` covers the dpkg lock; ``apt-get update`` ignores
    it for the lists lock (apt 2.6), so a lock error is retried until ``timeout`` seconds have passed."""
    limit = float(os.environ.get("CUMULO_APT_LOCK_TIMEOUT", "600")) if timeout is None else timeout
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "-o", f"DPkg::Lock::Timeout={int(limit)}", *args]
    started, said = time.monotonic(), ""
    while True:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return
        lock = _LOCK_ERROR.search(done.stderr)
        waited = time.monotonic() - started
        if lock is None or waited >= limit:
            raise Unavailable(f"apt-get {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
        holder = _LOCK_HOLDER.search(done.stderr)
        line = (f"apt-get {args[0]}: waiting for {lock.group(1)} "
                f"({holder.group(0) if holder else 'held by another apt process'}; up to {int(limit)}s)")
        if line != said:
            log.info("%s", line)
            say(line)
            said = line
        time.sleep(min(2.0, max(0.1, limit - waited)))


def ensure_tools(say: Callable[[str], None] = lambda line: None) -> None:
    """Install mmdebstrap and busybox-static from the OS packages when missing (a fresh CI machine)."""
    missing = [pkg for pkg, ok in (("mmdebstrap", shutil.which("mmdebstrap") is not None),
                                   ("busybox-static", BUSYBOX.exists() and _is_static(BUSYBOX))) if not ok]
    if not missing:
        return
    if os.geteuid() != 0:
        raise Unavailable(f"missing {', '.join(missing)}: install them with apt-get (needs root)")
    say(f"installing {', '.join(missing)} with apt-get")
    apt_get(["update", "-qq"], say)
    apt_get(["install", "-y", "-qq", *missing], say)


def _entry(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, **kw: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, EPOCH, 0, 0
    for key, value in kw.items():
        setattr(info, key, value)
    return info


def busybox_rootfs(path: Path) -> None:
    """A root with /bin/busybox, a symlink per applet, and minimal /etc files."""
    applets = subprocess.run([str(BUSYBOX), "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    files = {"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
             "etc/group": "root:x:0:\nnogroup:x:65534:\n", "etc/shadow": "root:*:19000:0:99999:7:::\n",
             "var/www/index.html": "<h1>cumulo/busybox</h1>\n"}
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "home", "var", "var/www",
                  "proc", "sys", "dev", "run"):
            tar.addfile(_entry(d, tarfile.DIRTYPE, 0o755))
        tar.addfile(_entry("tmp", tarfile.DIRTYPE, 0o1777))
        data = BUSYBOX.read_bytes()
        tar.addfile(_entry("bin/busybox", mode=0o755, size=len(data)), io.BytesIO(data))
        for applet in sorted(set(applets)):
            name = applet.lstrip("/")
            if name != "bin/busybox":
                tar.addfile(_entry(name, tarfile.SYMTYPE, 0o777, linkname="/bin/busybox"))
        for name, text in files.items():
            raw = text.encode()
            tar.addfile(_entry(name, mode=0o640 if name == "etc/shadow" else 0o644, size=len(raw)), io.BytesIO(raw))


def debian_rootfs(path: Path) -> None:
    """mmdebstrap minbase, merged-usr, no docs/man/locales, apt lists removed (~75 MB)."""
    cmd = ["mmdebstrap", "--variant=minbase", "--format=tar", "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
           "--aptopt=APT::Install-Recommends \"false\"", "--aptopt=APT::Install-Suggests \"false\"",
           "--dpkgopt=force-unsafe-io",
           "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/info/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*", "--dpkgopt=path-include=/usr/share/locale/locale.alias",
           "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright",
           SUITE, str(path), f"deb {MIRROR} {SUITE} main", f"deb {MIRROR} {SUITE}-updates main",
           f"deb {SECURITY_MIRROR} {SUITE}-security main"]
    done = subprocess.run(cmd, env={**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise Unavailable(f"mmdebstrap failed: {done.stderr.strip()[-800:]}")


def image_archive(rootfs: Path, out: Path, tag: str, cmd: list[str], labels: dict[str, str],
                  env: list[str] | None = None) -> None:
    """Wrap ``rootfs`` (a tar) as a one-layer image archive for ``docker load``."""
    digest = hashlib.sha256()
    with rootfs.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    created = "2023-11-14T22:13:20Z"  # EPOCH
    config = {"architecture": "amd64", "os": "linux", "created": created,
              "config": {"Cmd": cmd, "Env": [PATH_ENV, "LANG=C.UTF-8", *(env or [])], "Labels": labels},
              "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest.hexdigest()}"]},
              "history": [{"created": created, "created_by": "cumulo images bootstrap"}]}
    raw_config = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_name = f"{hashlib.sha256(raw_config).hexdigest()}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": ["layer/layer.tar"]}]).encode()
    with tarfile.open(out, "w") as tar:
        for name, data in ((config_name, raw_config), ("manifest.json", manifest)):
            tar.addfile(_entry(name, size=len(data)), io.BytesIO(data))
        tar.addfile(_entry("layer", tarfile.DIRTYPE, 0o755))
        with rootfs.open("rb") as fh:
            tar.addfile(_entry("layer/layer.tar", size=rootfs.stat().st_size), fh)
