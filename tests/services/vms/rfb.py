"""A small RFB (VNC) client for the tests of VM displays."""

from __future__ import annotations

import struct
from typing import Any


class Rfb:
    """Enough of an RFB 3.8 client (security None) to read the screen, through the WebSocket relay."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.buf = conn, b""

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.buf += self.conn.recv(timeout=30)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def handshake(self) -> str:
        assert self.read(12) == b"RFB 003.008\n"  # QEMU's VNC server greets through the relay
        self.conn.send(b"RFB 003.008\n")
        assert 1 in self.read(self.read(1)[0])  # security None offered (the relay is the lock)
        self.conn.send(b"\x01")
        assert self.read(4) == b"\0\0\0\0"
        self.conn.send(b"\x01")  # ClientInit, shared
        self.width, self.height = struct.unpack(">HH", self.read(4))
        self.bytes_per_pixel = self.read(16)[0] // 8
        name = self.read(int.from_bytes(self.read(4), "big")).decode()
        self.conn.send(struct.pack(">BxHii", 2, 2, 0, -223))  # SetEncodings: raw, DesktopSize
        return name

    def screen(self) -> tuple[int, int, int]:
        """The whole screen once: its width, height and how many distinct pixel values it shows."""
        self.conn.send(struct.pack(">BBHHHH", 3, 0, 0, 0, self.width, self.height))  # non-incremental
        while (kind := self.read(1)[0]) != 0:
            assert kind == 2, kind  # only a Bell may come first
        seen: set[bytes] = set()
        for _ in range(struct.unpack(">xH", self.read(3))[0]):
            _, _, w, h, encoding = struct.unpack(">HHHHi", self.read(12))
            if encoding == -223:
                self.width, self.height = w, h
                continue
            assert encoding == 0, encoding
            data, step = self.read(w * h * self.bytes_per_pixel), self.bytes_per_pixel
            seen.update(data[i:i + step] for i in range(0, len(data), step))
        return self.width, self.height, len(seen)
