"""A real HTTP receiver on loopback (stdlib ``http.server`` in a thread) for webhook and cron tests.

It records every request (method, path, headers, body) and answers with the next status of
``statuses`` (then ``default``); ``delay`` makes it slow.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from cumulo.testing import eventually  # noqa: F401 - the tests import it from here
from cumulo.testing.server import free_port


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    def __init__(self, port: int | None = None, statuses: list[int] | None = None, default: int = 200,
                 delay: float = 0.0):
        self.port = port or free_port()
        self.statuses: deque[int] = deque(statuses or [])
        self.default = default
        self.delay = delay
        self.requests: list[Received] = []
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with owner._cond:
                    status = owner.statuses.popleft() if owner.statuses else owner.default
                    owner.requests.append(Received(self.command, self.path, dict(self.headers.items()), body,
                                                   time.time()))
                    owner._cond.notify_all()
                if owner.delay:
                    time.sleep(owner.delay)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                reply = f"status {status}".encode()
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _handle

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first ``count`` requests, waiting for them (the timeout only stops a hung test)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self._cond.wait(left)
            return list(self.requests[:count])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
