"""A real ``git daemon`` (git:// protocol) on loopback for the apps tests: it serves the bare
repositories under ``root/<host name>/`` by the ``host=`` the client sends (virtual hosting,
``--interpolated-path``), and logs every request (``--verbose``) to read which host was asked."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from pathlib import Path

from cumulo.testing import eventually


class GitDaemon:
    def __init__(self, root: Path, listen: str = "localhost"):
        self.root = root
        self.listen = listen
        self.log = root.parent / f"{root.name}-daemon.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> GitDaemon:
        with socket.socket() as s:  # a free port for the daemon (it reports none of its own)
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._proc = subprocess.Popen(
            ["git", "daemon", "--verbose", "--reuseaddr", "--export-all", f"--listen={self.listen}",
             f"--port={self.port}", f"--interpolated-path={self.root}/%H%D", "--informative-errors", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=self.log.open("wb"))
        eventually(self._accepts, timeout=30, what="git daemon listening")
        return self

    def _accepts(self) -> bool:
        assert self._proc is not None and self._proc.poll() is None, self.log.read_text()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=2):
            return True
        return False

    def requests(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
