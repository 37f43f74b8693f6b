"""Issue 10, point 2: user-chosen outbound targets (notify webhooks, cron HTTP targets) cannot reach
loopback, this host, other tenants' VPC instances, link-local, private or IPv4-in-IPv6 addresses,
unless the operator allows a range (``CUMULO_OUTBOUND_ALLOW``); checked after DNS resolution, at
connect time and on every redirect hop. Real loopback receivers, real server, real dockerd."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from cumulo.client import ApiError, Client
from cumulo.drivers import http as outbound
from cumulo.drivers.http import guard
from cumulo.testing.server import LiveServer, free_port
from cumulo.testing.server import test_settings as settings_for
from tests.conftest import register_and_login
from tests.services.network.dockerkit import busybox, launch_web  # noqa: F401 - fixture
from tests.services.notify.receiver import Receiver, eventually


class Redirector:
    """An HTTP server on ``host`` answering 302 to ``location`` (or 200 when None), counting hits."""

    def __init__(self, host: str, location: str | None = None) -> None:
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                self.send_response(302 if location else 200)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _start(tmp_path_factory: pytest.TempPathFactory, allow: str) -> LiveServer:
    return LiveServer(settings_for(str(tmp_path_factory.mktemp("outbound")), outbound_allow=allow)).start()


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with the default setting: nothing internal is allowed."""
    live = _start(tmp_path_factory, "")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def loopback_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose operator allows 127.0.0.1 (and nothing else)."""
    live = _start(tmp_path_factory, "127.0.0.1/32")
    yield live
    live.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def refused(call: Any) -> str:
    with pytest.raises(ApiError) as err:
        call()
    assert err.value.status == 400, err.value
    return str(err.value)


def webhook(client: Client, url: str) -> Any:
    topic = client.notify.create_topic(f"t-{free_port()}")
    return lambda: client.notify.subscribe(topic["id"], "webhook", url)


def cron(client: Client, url: str) -> Any:
    return lambda: client.cron.create(f"j-{free_port()}", "@daily", target_url=url)


@pytest.mark.parametrize("kind", [webhook, cron])
def test_loopback_localhost_own_metrics_and_mapped_forms_are_refused(closed: LiveServer, receiver: Receiver,
                                                                      kind: Any) -> None:
    other = closed.settings.port
    with register_and_login(closed) as c:
        for url in (f"http://127.0.0.1:{receiver.port}/hook", f"http://localhost:{receiver.port}/hook",
                    f"http://[::ffff:127.0.0.1]:{receiver.port}/hook", f"http://[::1]:{receiver.port}/",
                    f"http://127.0.0.1:{other}/metrics", "http://169.254.169.254/latest/meta-data",
                    "http://10.1.2.3/", "http://100.64.0.1/", "http://[fd00::1]/", "http://0.0.0.0:80/"):
            message = refused(kind(c, url))
            assert "refused" in message, (url, message)
    assert receiver.requests == []


def test_another_servers_metrics_on_loopback_is_refused(closed: LiveServer, loopback_only: LiveServer) -> None:
    with register_and_login(closed) as c:
        assert "loopback" in refused(cron(c, f"http://127.0.0.1:{loopback_only.settings.port}/metrics"))
    with register_and_login(loopback_only) as c:  # allowed range, but Cumulo's own port stays refused
        assert "own API" in refused(cron(c, f"http://127.0.0.1:{loopback_only.settings.port}/metrics"))


def test_allowed_range_is_reached(loopback_only: LiveServer, receiver: Receiver) -> None:
    with register_and_login(loopback_only) as c:
        job = c.cron.create(f"j-{free_port()}", "0 0 1 1 *", target_url=receiver.url)
        c.cron.run(job["id"])
        assert receiver.wait_for(1)[0].method == "POST"
        topic = c.notify.create_topic("allowed")
        c.notify.subscribe(topic["id"], "webhook", receiver.url, raw_message_delivery=True)
        c.notify.publish(topic["id"], "hello")
        assert eventually(lambda: [r for r in receiver.requests if r.body == b"hello"])
        # 127.0.0.2 is loopback too but outside the allowed /32
        assert "loopback" in refused(cron(c, f"http://127.0.0.2:{receiver.port}/"))


def test_connect_time_check_refuses_a_name_resolving_to_loopback(closed: LiveServer, receiver: Receiver) -> None:
    """The transport vets the resolved address itself: a URL that skipped the save-time check (or
    whose DNS answer changed since) is refused when connecting, and nothing reaches the receiver."""
    client = outbound.pooled_client(closed.platform)
    for url in (f"http://localhost:{receiver.port}/hook", receiver.url):
        out = closed.call(outbound.request(client, "POST", url, content=b"x"))
        assert out.blocked and out.status_code is None and "loopback" in (out.error or "")
    assert receiver.requests == []


def test_every_redirect_hop_is_vetted(loopback_only: LiveServer) -> None:
    inner = Redirector("127.0.0.2")  # loopback, outside the allowed 127.0.0.1/32
    outer = Redirector("127.0.0.1", location=inner.url)
    try:
        assert httpx.get(inner.url).status_code == 200 and inner.hits == 1  # reachable without the guard
        client = outbound.pooled_client(loopback_only.platform)
        out = loopback_only.call(outbound.request(client, "GET", outer.url, max_redirects=5))
        assert out.blocked and "127.0.0.2" in (out.error or "")
        assert outer.hits == 1 and inner.hits == 1
        # cron targets do not follow redirects at all: the run records the 302
        with register_and_login(loopback_only) as c:
            job = c.cron.create(f"j-{free_port()}", "0 0 1 1 *", target_url=outer.url, method="GET")
            c.cron.run(job["id"])
            runs = eventually(lambda: [r for r in c.cron.runs(job["id"]) if r["status"] != "running"])
            assert runs[0]["status_code"] == 302
        assert inner.hits == 1
    finally:
        outer.close()
        inner.close()


@pytest.mark.docker
def test_another_tenants_vpc_instance_is_refused(server_sqlite: LiveServer, busybox: str) -> None:  # noqa: F811
    """B's cron job or webhook cannot fetch A's web server inside A's VPC (no published port)."""
    with register_and_login(server_sqlite) as a, register_and_login(server_sqlite) as b:
        vpc = a.post("/vpcs", {"name": "private"})
        web = launch_web(a, "secret-web", vpc_id=vpc["id"])
        url = f"http://{web['ip_address']}:8080/"
        try:
            assert httpx.get(url, timeout=10).text.strip() == "secret-web"  # the host itself can reach it
            for kind in (cron, webhook):
                assert "refused" in refused(kind(b, url))
            out = server_sqlite.call(outbound.request(outbound.pooled_client(server_sqlite.platform), "GET", url))
            assert out.blocked and out.status_code is None
        finally:
            a.delete(f"/instances/{web['id']}")
            a.delete(f"/vpcs/{vpc['id']}")


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "::1", "0.0.0.0", "::", "10.0.0.1", "172.17.0.1", "192.168.1.1", "100.64.0.1",
    "169.254.169.254", "fe80::1", "fc00::1", "fd12::1", "224.0.0.1", "ff02::1", "240.0.0.1", "255.255.255.255",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "2002:7f00:1::1", "64:ff9b::a9fe:a9fe", "192.0.0.8",
    "198.18.0.1", "192.0.2.1", "2001:db8::1",
])
def test_forbidden_addresses(address: str) -> None:
    assert guard.forbidden(address), address
    with pytest.raises(guard.BlockedDestination):
        guard.check_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert guard.forbidden(address) is None
    guard.check_address(address)


def test_every_host_address_is_forbidden() -> None:
    own, _internal = guard.host_networks()
    assert own, "no host address found"
    for ip in own:
        assert guard.forbidden(ip), ip


def test_allow_list_opens_only_its_range() -> None:
    allow = guard.parse_allow("10.1.0.0/16, 127.0.0.1")
    guard.check_address("10.1.2.3", allow)
    guard.check_address("::ffff:10.1.2.3", allow)
    guard.check_address("127.0.0.1", allow)
    for bad in ("10.2.0.1", "127.0.0.2"):
        with pytest.raises(guard.BlockedDestination):
            guard.check_address(bad, allow)
    with pytest.raises(ValueError):
        guard.parse_allow("10.1.0.0/33")
    assert ipaddress.ip_network("10.1.0.0/16") in allow
