"""The running platform: what every service receives (settings, database, bus, mailer, runner).

Services keep their own long-lived objects (a Docker client, a blob store, ...) in ``extras``
through ``get_or_create`` so nothing is built before it is needed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cumulo.core.config import Settings
from cumulo.core.events import Bus
from cumulo.db.engine import Database
from cumulo.drivers.mail.base import Mailer
from cumulo.runtime.signals import Signals, relay_bus
from cumulo.runtime.tasks import Runner

T = TypeVar("T")
log = logging.getLogger("cumulo")

HealthCheck = Callable[[], Awaitable[str]]


@dataclass
class Platform:
    settings: Settings
    db: Database
    mailer: Mailer
    bus: Bus = field(default_factory=Bus)
    runner: Runner = field(default_factory=Runner)
    checks: dict[str, HealthCheck] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    signals: Signals = field(init=False)

    def __post_init__(self) -> None:
        """Wake-ups and bus events cross processes through ``signals`` (``runtime/signals.py``)."""
        self.signals = Signals(self.db)
        self.runner.signals = self.signals
        relay_bus(self.bus, self.signals)

    @property
    def installation_id(self) -> str:
        """Names this installation on shared engines (Docker label ``cumulo.installation``), so two
        Cumulo installations (or two test servers) on one dockerd never touch each other's objects."""
        if "installation_id" not in self.extras:
            self.extras["installation_id"] = self.settings.installation_id or _stored_id(self.settings.data_dir)
        return self.extras["installation_id"]  # type: ignore[no-any-return]

    def get_or_create(self, key: str, factory: Callable[[], T]) -> T:
        if key not in self.extras:
            self.extras[key] = factory()
        return self.extras[key]  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.runner.stop()
        for closer in reversed(self.closers):
            try:
                result = closer()
                if result is not None:
                    await result
            except Exception:
                log.exception("error while closing")
        await self.signals.close()
        await self.db.dispose()


def _stored_id(data_dir: Path) -> str:
    path = data_dir / "installation-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        value = uuid.uuid4().hex[:12]
        path.write_text(value + "\n")
        return value


def build_platform(settings: Settings) -> Platform:
    from cumulo.drivers.mail import make_mailer

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Platform(settings=settings, db=Database(settings.resolved_database_url), mailer=make_mailer(settings))
