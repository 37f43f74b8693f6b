"""The running platform: what every service receives (settings, database, bus, runner, drivers).

The composition root: ``build_platform(settings)`` makes the database and ``drivers``
(``cumulo.drivers.composition.Drivers``: compute, network, volumes, functions, blob, mail, http, each
typed, built from the settings on first use and closed with the platform). ``extras`` holds only
service-private state (caches, per-object locks) under ``"<service>.<name>"`` keys, made on first
use through ``get_or_create``; a driver never goes there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cumulo.core.config import Settings
from cumulo.core.events import Bus
from cumulo.db.engine import Database
from cumulo.drivers.composition import Drivers
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
    bus: Bus = field(default_factory=Bus)
    runner: Runner = field(default_factory=Runner)
    checks: dict[str, HealthCheck] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None] | None]] = field(default_factory=list)
    signals: Signals = field(init=False)
    drivers: Drivers = field(init=False)

    def __post_init__(self) -> None:
        """Wake-ups and bus events cross processes through ``signals`` (``runtime/signals.py``)."""
        self.drivers = Drivers(self.settings, lambda: self.installation_id)
        self.signals = Signals(self.db)
        self.runner.signals = self.signals
        relay_bus(self.bus, self.signals)

    @property
    def mailer(self) -> Mailer:
        return self.drivers.mail

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
        await self.drivers.close()
        await self.signals.close()
        await self.db.dispose()


def _stored_id(data_dir: Path) -> str:
    path = data_dir / "installation-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        prepare_data_dir(data_dir)
        value = uuid.uuid4().hex[:12]
        write_private(path, (value + "\n").encode())
        return value


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner may read (0600), whatever the process umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data dir owner-only (0700); warn when an existing one, or what is in it, is open to
    the group or others (it holds the database, blobs, keys and mails with reset tokens)."""
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=0o700)
        os.chmod(data_dir, 0o700)
        return
    exposed = _exposed(data_dir)
    if exposed and str(data_dir) not in _warned:
        _warned.add(str(data_dir))
        log.warning("the data dir %s is readable by other users (%s%s): run `chmod -R go-rwx %s`",
                    data_dir, ", ".join(exposed[:5]), ", ..." if len(exposed) > 5 else "", data_dir)


_warned: set[str] = set()


def _exposed(data_dir: Path, limit: int = 2000) -> list[str]:
    """The data dir itself and the files in it or in its sub-folders that group or others may
    access (sub-folders of an owner-only data dir are unreachable for others whatever their mode)."""
    found: list[str] = []
    seen = 0

    def check(path: Path) -> None:
        nonlocal seen
        seen += 1
        try:
            mode = path.lstat().st_mode
        except OSError:
            return
        if (path == data_dir or stat.S_ISREG(mode)) and mode & 0o077:
            found.append(f"{path.name or path} {stat.filemode(mode)}")

    check(data_dir)
    try:
        for entry in sorted(data_dir.iterdir()):
            check(entry)
            if entry.is_dir() and not entry.is_symlink() and seen < limit:
                for inner in sorted(entry.iterdir())[:limit - seen]:
                    check(inner)
    except OSError:
        pass
    return found


def _sqlite_file(settings: Settings) -> None:
    """Create the SQLite database file 0600 before SQLite does (its WAL and SHM files take its mode)."""
    url = settings.resolved_database_url
    if not url.startswith("sqlite") or ":memory:" in url:
        return
    path = Path(url.split(":///", 1)[-1].split("?", 1)[0])
    if path.name and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def build_platform(settings: Settings) -> Platform:
    prepare_data_dir(settings.data_dir)
    db = Database(settings.resolved_database_url)  # refuses a URL it cannot serve before any file is made
    _sqlite_file(settings)
    return Platform(settings=settings, db=db)
