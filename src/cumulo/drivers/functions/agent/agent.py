"""Cumulo function agent (Python): runs inside the function container.

Loads the handler ``module.function`` from /var/task once, then serves invocations on a Unix
socket: each frame is a 4-byte big-endian length and a JSON document. Request:
``{"event", "context"}``; answer: ``{"ok": true, "result"}`` or ``{"ok": false, "error": {type,
message, stack}}``, plus ``"logs"`` (stdout and stderr printed during the invocation).
Standard library only: it must run on any Python 3 image (so the annotations that name generics are
strings: mypy checks them, the interpreter never evaluates them).
"""

import asyncio
import importlib
import io
import json
import os
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

SOCKET = os.environ.get("CUMULO_SOCKET", "/run/cumulo/agent.sock")
HANDLER = os.environ.get("CUMULO_HANDLER", "")
MAX_LOGS = 64 * 1024
MAX_RESULT = 6 * 1024 * 1024


class Capture(io.TextIOBase):
    """stdout/stderr of one invocation, capped at MAX_LOGS characters."""

    def __init__(self) -> None:
        self.parts = []  # type: list[str]
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.size < MAX_LOGS:
            self.parts.append(text[: MAX_LOGS - self.size])
        self.size += len(text)
        return len(text)

    def value(self) -> str:
        out = "".join(self.parts)
        return out + ("\n[logs truncated]\n" if self.size > MAX_LOGS else "")


class Context:
    def __init__(self, data: "dict[str, Any]") -> None:
        self.function_name = data.get("function_name", "")
        self.function_version = str(data.get("function_version", ""))
        self.invocation_id = self.aws_request_id = data.get("invocation_id", "")
        self.memory_limit_in_mb = data.get("memory_limit_in_mb", 0)
        self._deadline = time.monotonic() + data.get("timeout_ms", 0) / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def describe(exc: BaseException, kind: "str | None" = None) -> "dict[str, Any]":
    return {"type": kind or type(exc).__name__, "message": str(exc),
            "stack": traceback.format_exception(type(exc), exc, exc.__traceback__)[-20:]}


def load() -> "Callable[..., Any]":
    module_name, _, function_name = HANDLER.rpartition(".")
    if not module_name or not function_name:
        raise ValueError(f"handler must look like 'module.function', got {HANDLER!r}")
    module = importlib.import_module(module_name)
    handler = getattr(module, function_name, None)  # type: object
    if not callable(handler):
        raise AttributeError(f"module {module_name!r} has no function {function_name!r}")
    return handler


def invoke(handler: "Callable[..., Any] | None", init_error: "dict[str, Any] | None",
           request: "dict[str, Any]") -> "dict[str, Any]":
    capture = Capture()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = capture
    try:
        if init_error is not None or handler is None:
            answer = {"ok": False, "error": init_error}  # type: dict[str, Any]
        else:
            result = handler(request.get("event"), Context(request.get("context") or {}))
            if asyncio.iscoroutine(result):
                result = asyncio.run(result)
            try:
                encoded = json.dumps(result)
            except (TypeError, ValueError) as exc:
                answer = {"ok": False, "error": describe(exc, "Runtime.ResultNotSerializable")}
            else:
                if len(encoded) > MAX_RESULT:
                    answer = {"ok": False, "error": {"type": "Runtime.ResultTooLarge", "stack": [],
                                                     "message": "the result is larger than 6 MiB"}}
                else:
                    answer = {"ok": True, "result_json": encoded}
    except BaseException as exc:  # noqa: BLE001 - every failure of user code becomes a structured error
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            answer = {"ok": True, "result_json": "null"}
        else:
            answer = {"ok": False, "error": describe(exc)}
    finally:
        sys.stdout, sys.stderr = saved
    answer["logs"] = capture.value()
    return answer


def read_exact(conn: socket.socket, size: int) -> "bytes | None":
    chunks = []
    while size:
        chunk = conn.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def serve(handler: "Callable[..., Any] | None", init_error: "dict[str, Any] | None") -> None:
    try:
        os.unlink(SOCKET)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(SOCKET + ".tmp")
    os.rename(SOCKET + ".tmp", SOCKET)  # the host sees the socket only once it is bound
    server.listen(4)
    while True:
        conn, _ = server.accept()
        with conn:
            while True:
                header = read_exact(conn, 4)
                if header is None:
                    break
                body = read_exact(conn, struct.unpack(">I", header)[0])
                if body is None:
                    break
                answer = invoke(handler, init_error, json.loads(body))
                data = json.dumps(answer).encode()
                conn.sendall(struct.pack(">I", len(data)) + data)


def main() -> None:
    sys.path.insert(0, os.getcwd())
    capture = Capture()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = capture
    handler, init_error = None, None
    try:
        handler = load()
    except BaseException as exc:  # noqa: BLE001
        init_error = describe(exc, "Runtime.HandlerNotLoaded")
    finally:
        sys.stdout, sys.stderr = saved
    if init_error is not None and capture.value():
        init_error["message"] += "\n" + capture.value()[-2000:]
    serve(handler, init_error)


if __name__ == "__main__":
    main()
