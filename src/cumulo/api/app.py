"""``create_app()``: the API application, with every service router discovered and mounted."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from cumulo import __version__, console, services
from cumulo.api import docs, errors, openapi
from cumulo.api import metrics as metrics_routes
from cumulo.api.metrics import Metrics
from cumulo.api.middleware import RequestMiddleware
from cumulo.api.ratelimit import RateLimiter
from cumulo.api.routing import index_routes
from cumulo.core.config import Settings
from cumulo.db import migrate
from cumulo.platform import Platform, build_platform

log = logging.getLogger("cumulo")


def start_workers(platform: Platform) -> None:
    """Register every service's background loops on the platform's runner."""
    for name, module in services.modules("reconciler"):
        register = getattr(module, "register", None)
        if register is not None:
            register(platform)
            log.debug("background work of %s registered", name)


def _limiter(settings: Settings, rate: str, name: str) -> RateLimiter:
    """Several API processes count every client's requests in one shared table (in the data dir)."""
    shared = settings.data_dir / "run" / f"ratelimit-{name}.bin" if settings.api_processes > 1 else None
    return RateLimiter(rate, shared=shared)


def create_app(settings: Settings | None = None, *, platform: Platform | None = None,
               workers: bool = True, migrations: bool = True) -> FastAPI:
    settings = settings or (platform.settings if platform else Settings())
    platform = platform or build_platform(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = time.monotonic()
        if migrations:
            await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
            log.info("database schema up to date (%.1f s)", time.monotonic() - started)
        for name, module in services.modules("lifecycle"):
            step = time.monotonic()
            await module.startup(platform)
            if time.monotonic() - step > 1:  # say what a slow start waits for
                log.info("%s started (%.1f s)", name, time.monotonic() - step)
        if workers:
            start_workers(platform)
            await platform.runner.start()
        try:
            yield
        finally:
            await platform.close()

    app = FastAPI(title="Cumulo", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="A self-hosted cloud: the Cumulo control-plane API. Authenticate with `X-API-Key`. "
                              "Errors are `{\"error\": {\"code\", \"message\"}}`; bad input is 400.")
    app.state.platform = platform
    app.state.key_limiter = _limiter(settings, settings.rate_limit, "keys")
    metrics = Metrics()
    errors.install(app)
    streamed: list[tuple[str, str]] = []
    for _name, module in services.modules("api"):
        app.router.routes.extend(module.router.routes)
        streamed += getattr(module, "STREAMED", ())

    for _name, module in services.modules("prometheus"):  # per-service series appended to /metrics
        metrics.sources.append(functools.partial(module.render, platform))
    metrics_routes.install(app, metrics)  # admin key, or CUMULO_METRICS_ADDRESS (api/metrics.py)

    console.install(app)  # the web console: /console, /auth/session, /events/stream
    docs.install(app)
    openapi.install(app, tuple(streamed))
    index_routes(app)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"],
                       allow_headers=["*"], expose_headers=["X-Request-ID", "Retry-After", "X-Total-Count", "Link"])
    app.add_middleware(RequestMiddleware, max_body=settings.max_body_bytes,
                       auth_limiter=_limiter(settings, settings.auth_rate_limit, "auth"), metrics=metrics,
                       streamed=tuple(streamed))
    return app
