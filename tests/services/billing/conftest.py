"""A billing test server per module and database, whose time is a ``ManualClock`` (only its own
loop's: other servers of the process keep the real time). It starts 10 days before a month ends,
at midnight, so a module can run a few days of resources and cross the month's end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cumulo.client import Client
from cumulo.core import clock as clocks
from cumulo.services.events import service as events
from cumulo.testing import eventually
from cumulo.testing.server import LiveServer, test_settings
from tests.conftest import PASSWORD, _create_pg_database, new_email, remove_leftovers


def _start_time() -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    first = (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=32)).replace(day=1)
    return first - dt.timedelta(days=10)


@dataclass
class Billed:
    live: LiveServer
    clock: clocks.ManualClock
    data_dir: str

    def start(self, settings: Any) -> LiveServer:
        live = LiveServer(settings).start()
        clocks.install(live.loop, self.clock)  # type: ignore[arg-type]
        return live

    def restart(self) -> None:
        settings = self.live.settings
        self.live.stop()  # on the test clock to the end: what the shutdown writes is stamped with its time
        clocks.uninstall(self.live.loop)  # type: ignore[arg-type]
        self.live = self.start(settings)

    def run(self, coro: Any) -> Any:
        return self.live.call(coro)

    def consumed(self) -> bool:
        """The billing consumer has handled every event recorded so far (on PostgreSQL the outbox
        waits for the server-wide horizon, which other tests' transactions may hold back)."""
        from cumulo.services.billing import meter, usage_events

        async def check() -> bool:
            platform = self.live.platform
            await meter.drain(platform)  # type: ignore[arg-type]
            passed = {"sqlite": "SELECT count(*) FROM events e, outbox_cursors c WHERE c.name = :n AND e.rowid > c.seq",
                      "postgresql": "SELECT count(*) FROM events e, outbox_cursors c WHERE c.name = :n AND "
                                    "(e.txid, e.seq) > (CAST(c.txid AS bigint)::text::xid8, c.seq)"}
            async with platform.db.session() as session:  # type: ignore[union-attr]
                left = await session.scalar(text(passed[platform.db.dialect]), {"n": usage_events.CONSUMER})  # type: ignore[union-attr]
            return not left

        return bool(self.live.call(check()))

    def meter(self) -> dict[str, int]:
        from cumulo.services.billing import meter

        eventually(self.consumed, timeout=60, interval=0.1, what="the billing consumer to catch up")
        return self.live.call(meter.run(self.live.platform))  # type: ignore[arg-type]

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def to_next_hour(self) -> dt.datetime:
        now = self.clock.now
        if now.minute or now.second or now.microsecond:
            self.clock.now = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        return self.clock.now

    def close_day(self) -> None:
        """To the next midnight, past the settle time: the day's charges are posted."""
        self.clock.now = (self.clock.now.replace(hour=0, minute=0, second=0, microsecond=0)
                          + dt.timedelta(days=1, seconds=120))

    def record(self, user_id: str, action: str, resource_type: str, resource_id: str, **data: Any) -> None:
        async def go() -> None:
            async with self.live.platform.db.session() as session:  # type: ignore[union-attr]
                events.record(session, user_id=user_id, action=action, resource_type=resource_type,
                              resource_id=resource_id, **data)
                await session.commit()
        self.live.call(go())

    def user(self, plan: str | None = "pro") -> tuple[Client, str]:
        client = Client(self.live.url)
        email = new_email()
        client.identity.register(email, PASSWORD, "Billed User")
        client.identity.login(email, PASSWORD)
        if plan:
            client.billing.subscribe(plan)
        return client, client.identity.me()["id"]

    def admin(self) -> Client:
        from cumulo.services.identity import service as identity

        email = new_email()

        async def make() -> None:
            async with self.live.platform.db.session() as session:  # type: ignore[union-attr]
                await identity.create_user(session, email=email, password=PASSWORD, name="Admin", role="admin",
                                           verified=True)
                await session.commit()

        self.live.call(make())
        client = Client(self.live.url)
        client.identity.login(email, PASSWORD)
        return client

    def mails(self, to: str) -> list[str]:
        folder = Path(self.data_dir) / "outbox"
        found = []
        for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
            text = path.read_text(errors="replace")
            if f"To: {to}" in text and "Cumulo billing" in text:
                found.append(next(line for line in text.splitlines() if line.startswith("Subject:")))
        return found


def _billed(tmp_path_factory: pytest.TempPathFactory, backend: str, **settings: Any) -> Iterator[Billed]:
    url, drop = _create_pg_database() if backend == "postgresql" else (None, None)
    data_dir = str(tmp_path_factory.mktemp(f"billing-{backend}"))
    env = Billed(live=None, clock=clocks.ManualClock(_start_time()), data_dir=data_dir)  # type: ignore[arg-type]
    try:
        env.live = env.start(test_settings(data_dir, url, billing_meter_seconds=3600, billing_grace_seconds=600,
                                           billing_settle_seconds=60, **settings))
        yield env
        installation = env.live.platform.installation_id if env.live.platform is not None else None
        clocks.uninstall(env.live.loop)  # type: ignore[arg-type]
        env.live.stop()
        # rows written straight into the database (a cache of test_declared) got containers from
        # the server's reconcilers: they go with the module's server
        remove_leftovers({installation} if installation else set())
    finally:
        if drop:
            drop()  # also when the server did not start


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def billed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Billed]:
    yield from _billed(tmp_path_factory, request.param)


@pytest.fixture(scope="module")
def billed_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Billed]:
    yield from _billed(tmp_path_factory, "sqlite")
