"""The serial console against a unix socket peer that reads as slowly as a busy TCG guest's UART and,
as QEMU's socket chardev does, drops what is still unread once the other end hung up: what was typed
just before the console closed still reaches it."""

from __future__ import annotations

import select
import socket
import threading
import time
from pathlib import Path

from cumulo.drivers.vm.console import SerialConsole


def test_what_was_typed_before_the_close_reaches_a_slow_reader(tmp_path: Path) -> None:
    path = tmp_path / "serial.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    got = bytearray()

    def slow_guest() -> None:
        conn, _ = server.accept()
        time.sleep(1)  # the guest is busy: nothing is read for a while
        hung_up = select.poll()
        hung_up.register(conn, select.POLLRDHUP)
        while not hung_up.poll(0) and (chunk := conn.recv(4)):  # a few bytes at a time, as a FIFO drains
            got.extend(chunk)
            time.sleep(0.02)
            if got.endswith(b"\r"):
                break  # the guest acts on the line and goes away (a reboot, a power-off)
        conn.close()

    reader = threading.Thread(target=slow_guest)
    reader.start()
    console = SerialConsole(path)
    console.write(b"sync; reboot -f\n")
    console.close()
    reader.join(timeout=10)
    assert bytes(got) == b"sync; reboot -f\r"  # the newline as the serial line's Enter
    server.close()
