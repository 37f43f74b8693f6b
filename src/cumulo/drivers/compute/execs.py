"""Run one command inside a running container without a TTY: stdout and stderr apart, the exit
code, a deadline and an output cap (``cumulo exec``). Docker multiplexes the two streams on one
socket in frames (8-byte header: stream, 3 zero bytes, big-endian length), read here directly so
the deadline holds even when the command prints nothing."""

from __future__ import annotations

import os
import signal
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class ExecResult:
    exit_code: int | None  # None: killed at the deadline
    stdout: bytes
    stderr: bytes
    timed_out: bool
    truncated: bool


def _recv_exactly(sock: socket.socket, size: int, deadline: float) -> bytes | None:
    data = b""
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _kill(api: Any, exec_id: str) -> None:
    """Docker has no API to stop an exec: kill its process when it runs on this host."""
    pid = int(api.exec_inspect(exec_id).get("Pid") or 0)
    if pid > 1 and Path(f"/proc/{pid}").exists():
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run(api: Any, ref: str, command: list[str], timeout: float, limit: int) -> ExecResult:
    """Blocking: call it in a thread. Keeps at most ``limit`` bytes of each stream."""
    exec_id = api.exec_create(ref, command, stdout=True, stderr=True, stdin=False, tty=False)["Id"]
    raw = api.exec_start(exec_id, socket=True)
    sock: socket.socket = getattr(raw, "_sock", raw)
    out, err = bytearray(), bytearray()
    truncated = timed_out = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            header = _recv_exactly(sock, 8, deadline)
            if header is None:
                break
            kind, size = header[0], struct.unpack(">I", header[4:])[0]
            payload = _recv_exactly(sock, size, deadline) if size else b""
            if payload is None:
                break
            target = err if kind == 2 else out
            room = limit - len(target)
            if len(payload) > room:
                truncated = True
            target += payload[:max(room, 0)]
    except TimeoutError:
        timed_out = True
        _kill(api, exec_id)
    except OSError:
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass
    code = None if timed_out else api.exec_inspect(exec_id).get("ExitCode")
    return ExecResult(exit_code=None if code is None else int(code), stdout=bytes(out), stderr=bytes(err),
                      timed_out=timed_out, truncated=truncated)
