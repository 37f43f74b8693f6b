"""Process roles: ``up`` (everything), ``api``, ``s3`` and ``worker``, sharing one code path."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from typing import Any, Literal

import uvicorn
from starlette.types import ASGIApp

from cumulo import services
from cumulo.api.app import create_app, start_workers
from cumulo.api.metrics import metrics_app
from cumulo.core.config import Settings
from cumulo.db import migrate
from cumulo.platform import Platform, build_platform
from cumulo.runtime import logs
from cumulo.runtime.http import protocol_options

log = logging.getLogger("cumulo")
S3_MODULE = "cumulo.services.storage.s3app"


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us (several servers share one process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # older uvicorn
        return None


def server_config(app: ASGIApp, settings: Settings, port: int, lifespan: Literal["auto", "on", "off"],
                  host: str | None = None) -> uvicorn.Config:
    """The uvicorn configuration of every port (header limits and slow-client bounds: runtime/http.py)."""
    config = uvicorn.Config(app, host=host or settings.host, port=port, log_level=settings.log_level,
                            access_log=False, lifespan=lifespan, proxy_headers=False, server_header=False,
                            **protocol_options(settings))
    logs.install()  # after uvicorn set its loggers up: redact keys and tokens (runtime/logs.py)
    return config


def metrics_listener(app: Any, settings: Settings) -> uvicorn.Config | None:
    """With ``CUMULO_METRICS_ADDRESS=host:port``: a separate listener serving /metrics without a key."""
    if not settings.metrics_address:
        return None
    host, _, port = settings.metrics_address.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"CUMULO_METRICS_ADDRESS must be host:port, got {settings.metrics_address!r}")
    return server_config(metrics_app(app.state.metrics), settings, int(port), "off",
                         host=host.strip("[]") or "127.0.0.1")


def _s3_app(platform: Platform) -> ASGIApp | None:
    try:
        module = importlib.import_module(S3_MODULE)
    except ModuleNotFoundError:
        return None
    app: ASGIApp = module.create_s3_app(platform)
    return app


def _loop_run(coro: Any) -> None:
    """Run on uvloop when it is installed (it is, with uvicorn[standard]): markedly cheaper socket
    I/O and callbacks than the default loop; plain asyncio otherwise."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


def run(settings: Settings, *, api: bool = True, s3: bool = True, workers: bool = True) -> None:
    """Run a role. With ``CUMULO_API_PROCESSES`` > 1 the API socket is shared with forked API-only
    processes (the S3 endpoint and background workers stay in the first process)."""
    processes = settings.api_processes if api else 1
    if processes <= 1:
        _loop_run(serve(settings, api=api, s3=s3, workers=workers))
        return
    build_platform(settings)  # creates the data dir
    migrate.upgrade(settings.resolved_database_url)
    sock = _listener(settings)
    children = []
    for _ in range(processes - 1):
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                _loop_run(serve(settings, api=True, s3=False, workers=False, api_socket=_listener(settings),
                                migrations=False))
            finally:
                os._exit(0)
        children.append(pid)
    try:
        _loop_run(serve(settings, api=api, s3=s3, workers=workers, api_socket=sock, migrations=False))
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _listener(settings: Settings) -> socket.socket:
    """One listening socket per process on the shared port (SO_REUSEPORT): the kernel spreads new
    connections evenly. With one shared socket, the busiest process tends to accept them all."""
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    return sock


async def _settle_heap(servers: list[_Server]) -> None:
    """Once every server is up, move the start-up heap (modules, routes, models: a few hundred
    thousand objects) out of the collector's sight: full collections then scan only what requests
    create, instead of pausing the loop for tens of milliseconds every few seconds under load."""
    for _ in range(600):
        if all(s.started for s in servers):
            break
        await asyncio.sleep(0.05)
    gc.collect()
    gc.freeze()


async def serve(settings: Settings, *, api: bool = True, s3: bool = True, workers: bool = True,
                api_socket: socket.socket | None = None, migrations: bool = True) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logs.install()
    platform = build_platform(settings)
    if migrations:
        await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
    servers: list[_Server] = []
    if api:
        app = create_app(platform=platform, workers=workers, migrations=False)
        servers.append(_Server(server_config(app, settings, settings.port, "on")))
        listener = metrics_listener(app, settings)
        if listener is not None:
            servers.append(_Server(listener))
    s3_app = _s3_app(platform) if s3 else None
    if s3_app is not None:
        servers.append(_Server(server_config(s3_app, settings, settings.s3_port, "off")))
    if not api:  # the API lifespan would otherwise start lifecycle hooks and workers
        for _name, module in services.modules("lifecycle"):
            await module.startup(platform)
        if workers:
            start_workers(platform)
            await platform.runner.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(s.serve(sockets=[api_socket] if api_socket and i == 0 and api else None))
             for i, s in enumerate(servers)]
    waiter = asyncio.create_task(stop.wait())
    await _settle_heap(servers)
    log.info("cumulo running: api=%s s3=%s workers=%s", api and settings.port, s3_app is not None and settings.s3_port,
             workers)
    await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    waiter.cancel()
    if not api:
        await platform.close()
