"""An urgent change (an app's switch to its new release, a ``git push`` waiting on it) is pushed to
the proxy without waiting for the burst to settle; ordinary changes keep coalescing (fake driver:
no Caddy)."""

from __future__ import annotations

from collections.abc import Callable

from cumulo.client import Client
from cumulo.drivers.proxy.fake import FakeProxy
from cumulo.services.gateway import providers
from cumulo.services.gateway.dataplane import dataplane
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login
from tests.services.gateway.conftest import eventually


def test_an_urgent_change_skips_the_settling_wait(make_server: Callable[..., LiveServer]) -> None:
    # 60 s of spacing, so a burst settles only after 15 s without a new change
    live = make_server(proxy_driver="fake", gateway_push_seconds=60)
    assert live.platform is not None
    platform = live.platform
    dp = dataplane(platform)
    driver = dp.driver
    assert isinstance(driver, FakeProxy)
    eventually(lambda: dp.syncs >= 1)  # the start-up sync

    async def long_after_the_last_reload() -> None:
        dp.last_push -= 120

    live.call(long_after_the_last_reload())
    with register_and_login(live) as client:
        assert isinstance(client, Client)
        route = client.routes.create("web", "http://93.184.216.34:8080")
        live.call(providers.changed(platform, urgent=True))
        # pushed well inside the 15 s an ordinary change would wait for the burst to settle
        routes = eventually(lambda: driver.current and [r.id for r in driver.current.routes], timeout=8)
        assert routes == [f"route-{route['id']}"]
