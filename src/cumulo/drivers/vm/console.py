"""A VM's consoles: the guest's serial line (QEMU's ``serial.sock``), bridged by the instance
console WebSocket."""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
import termios
import time
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

    def close(self) -> None:
        """Closed once QEMU has read what was typed (at most ``DRAIN_SECONDS``): QEMU drops what is
        still unread in the socket when it closes, and a busy guest reads its UART slowly."""
        deadline = time.monotonic() + DRAIN_SECONDS
        with contextlib.suppress(OSError):
            while _unread(self._sock) and time.monotonic() < deadline:
                time.sleep(0.05)
        super().close()


DRAIN_SECONDS = 5.0


def _unread(sock: socket.socket) -> int:
    """Bytes sent on ``sock`` its peer has not read yet (``SIOCOUTQ``; memory accounting, so 0 only
    when all is read)."""
    found: int = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    return found
