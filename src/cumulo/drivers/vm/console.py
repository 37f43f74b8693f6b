"""A VM's consoles: the guest's serial line (QEMU's ``serial.sock``), bridged by the instance
console WebSocket."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

from cumulo.drivers.compute.base import Console


class SerialConsole(Console):
    """The guest's serial console (a unix socket of QEMU); one reader at a time."""

    def __init__(self, path: Path) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(str(path))

    def read(self) -> bytes:
        try:
            return self._sock.recv(65536)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self._sock.sendall(data.replace(b"\n", b"\r"))

    def resize(self, cols: int, rows: int) -> None:
        pass  # a serial line has no window size

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
