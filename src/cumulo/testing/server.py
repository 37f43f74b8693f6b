"""``LiveServer``: the real API (and S3 endpoint when present) on free loopback ports, in a thread
with its own event loop. Tests talk to it over HTTP and may run coroutines on its loop
(``call``) to reach service functions directly."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn

from cumulo.api.app import create_app
from cumulo.core.config import Settings
from cumulo.platform import Platform, build_platform
from cumulo.runtime.server import _s3_app, metrics_listener, server_config

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, settings: Settings, *, workers: bool = True):
        self.settings = settings
        self.workers = workers
        self.url = f"http://127.0.0.1:{settings.port}"
        self.s3_url = f"http://127.0.0.1:{settings.s3_port}"
        self.platform: Platform | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[uvicorn.Server] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cumulo-live", daemon=True)

    def start(self, timeout: float = 60) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("Cumulo test server did not start in time")
        if self._error:
            raise RuntimeError("Cumulo test server failed to start") from self._error
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.platform = build_platform(self.settings)
        app = create_app(platform=self.platform, workers=self.workers)
        configs = [server_config(app, self.settings, self.settings.port, "on", host="127.0.0.1")]
        listener = metrics_listener(app, self.settings)
        if listener is not None:
            configs.append(listener)
        s3 = _s3_app(self.platform)
        if s3 is not None:
            configs.append(server_config(s3, self.settings, self.settings.s3_port, "off", host="127.0.0.1"))
        self._servers = [uvicorn.Server(c) for c in configs]
        tasks = [asyncio.create_task(s.serve()) for s in self._servers]
        while not all(s.started for s in self._servers):
            if any(t.done() for t in tasks):
                for t in tasks:
                    failure = t.exception() if t.done() else None
                    if failure is not None:
                        raise failure
                raise RuntimeError("server exited during start-up")
            await asyncio.sleep(0.02)
        self._ready.set()
        await asyncio.gather(*tasks)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the server's loop (e.g. a service function) and return its result."""
        assert self.loop is not None
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        for s in self._servers:
            s.should_exit = True
        self._thread.join(timeout=30)


def test_settings(data_dir: str, database_url: str | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir, "database_url": database_url, "port": free_port(), "s3_port": free_port(),
        "auth_rate_limit": "100000/minute", "rate_limit": "1000000/minute", "log_level": "warning",
        "outbound_allow": "127.0.0.0/8",  # test receivers listen on loopback (tests/security overrides it)
        # each test server's Caddy (started with its first route) on ports of its own, stopped with it
        "proxy_http_port": free_port(), "proxy_https_port": free_port(), "proxy_listen_host": "127.0.0.1",
        "proxy_stop_on_exit": True,
    }
    values.update(overrides)
    return Settings(**values)
