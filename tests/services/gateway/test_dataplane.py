"""The desired proxy config the gateway builds from the database (fake driver: no Caddy)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from cumulo.client import Client
from cumulo.drivers.proxy.caddy import order
from cumulo.drivers.proxy.fake import FakeProxy
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login
from tests.services.gateway.conftest import eventually


@pytest.fixture
def fake(make_server: Callable[..., LiveServer]) -> Iterator[tuple[LiveServer, Client]]:
    live = make_server(proxy_driver="fake", gateway_push_seconds=0.2)
    with register_and_login(live) as client:
        yield live, client


def _pushed(live: LiveServer) -> FakeProxy:
    from cumulo.services.gateway.dataplane import dataplane

    assert live.platform is not None
    driver = dataplane(live.platform).driver
    assert isinstance(driver, FakeProxy)
    return driver


def test_config_follows_the_routes(fake: tuple[LiveServer, Client]) -> None:
    live, client = fake
    driver = _pushed(live)
    plain = client.routes.create("plain", "http://93.184.216.34:8080/base", prefix="/p", strip_prefix=True)
    guarded = client.routes.create("guarded", "http://93.184.216.34", require_api_key=True, rate_limit=5,
                                   methods=["GET"], timeout_seconds=7)
    routes = eventually(lambda: driver.current and len(driver.current.routes) == 2 and
                        {r.id: r for r in driver.current.routes})
    p, g = routes[f"route-{plain['id']}"], routes[f"route-{guarded['id']}"]
    assert p.hostnames == (plain["hostname"],) and p.prefix == "/p" and p.strip_prefix
    assert [u.dial for u in p.pool.upstreams] == ["93.184.216.34:8080"]  # the vetted address is dialled
    assert (p.upstream_path, p.upstream_host, p.check, p.drop_headers) == ("/base", "93.184.216.34:8080", False, ())
    assert g.check and g.methods == ("GET",) and g.timeout_seconds == 7
    assert set(g.drop_headers) == {"X-Api-Key", "Authorization"}  # the caller's key stays with the proxy
    assert driver.current is not None and driver.current.check_dial and driver.current.check_dial.startswith("unix/")
    client.routes.delete(plain["id"])
    eventually(lambda: driver.current and [r.id for r in driver.current.routes] == [f"route-{guarded['id']}"])


@pytest.mark.docker  # needs dockerd (instances or function runtimes)
def test_stopped_instance_leaves_an_empty_pool(fake: tuple[LiveServer, Client]) -> None:
    live, client = fake
    driver = _pushed(live)
    inst = client.instances.launch("gw-fake", "cumulo/busybox", command=["sleep", "3600"], memory_mb=64, cpus=0.25)
    try:
        route = client.routes.create("inst", f"instance:{inst['id']}:80")
        rid = f"route-{route['id']}"

        def pool() -> tuple[str, ...] | None:
            found = [r for r in (driver.current.routes if driver.current else ()) if r.id == rid]
            return tuple(u.dial for u in found[0].pool.upstreams) if found else None

        ip = client.instances.get(inst["id"])["ip_address"]
        assert eventually(lambda: pool() == (f"{ip}:80",))
        client.instances.stop(inst["id"])
        assert eventually(lambda: pool() == ())  # out of rotation: the route answers 503
    finally:
        client.instances.terminate(inst["id"])


def test_order_is_longest_prefix_first_whatever_the_input_order() -> None:
    from cumulo.drivers.proxy.config import Pool, Route

    def r(rid: str, prefix: str, host: bool = True, methods: tuple[str, ...] = ()) -> Route:
        return Route(rid, "u", Pool(()), hostnames=("h.test",) if host else (), prefix=prefix, methods=methods)

    routes = [r("a", "/"), r("b", "/api"), r("c", "/api/v1"), r("d", "/api", methods=("GET",)), r("e", "/x", False)]
    expected = ["c", "d", "b", "a", "e"]
    assert [x.id for x in order(routes)] == expected
    assert [x.id for x in order(routes[::-1])] == expected
