"""A VM's consoles: the guest's serial line (QEMU's ``serial.sock``), bridged by the instance
console WebSocket."""

from __future__ import annotations

import socket
from pathlib import Path

from cumulo.drivers.compute.base import SocketConsole


class SerialConsole(SocketConsole):
    """The guest's serial console (a unix socket of QEMU); one reader at a time."""

    def __init__(self, path: Path) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(path))
        super().__init__(sock)

    def write(self, data: bytes) -> None:
        super().write(data.replace(b"\n", b"\r"))

    def resize(self, cols: int, rows: int) -> None:
        pass  # a serial line has no window size
