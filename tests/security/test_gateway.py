"""Issue 12: a gateway route cannot proxy into the platform (loopback, this host, any tenant's VPC,
metadata and private addresses, Cumulo's own ports), another user's instance is 404, and a
hostname belongs to one user across routes and load balancers. Real server, real dockerd."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cumulo.client import ApiError, Client
from cumulo.core.errors import Conflict
from cumulo.drivers.http import guard
from cumulo.testing.server import LiveServer
from cumulo.testing.server import test_settings as settings_for
from tests.conftest import register_and_login

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it

FORBIDDEN = [
    "http://127.0.0.1:8000/", "http://localhost/", "http://127.1.2.3/", "http://0.0.0.0/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://10.0.0.1/",
    "http://172.17.0.1/", "http://192.168.1.1/", "http://100.64.0.1/", "http://[::1]/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/", "http://[64:ff9b::7f00:1]/",
    "http://224.0.0.1/", "https://[fe80::1]/",
]


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """No outbound allow list (the test default opens loopback for webhook receivers)."""
    live = LiveServer(settings_for(str(tmp_path_factory.mktemp("gw-strict")), outbound_allow="",
                                   proxy_driver="fake")).start()
    yield live
    live.stop()


@pytest.fixture
def alice(strict: LiveServer) -> Iterator[Client]:
    with register_and_login(strict) as c:
        yield c


@pytest.fixture
def bob(strict: LiveServer) -> Iterator[Client]:
    with register_and_login(strict) as c:
        yield c


def _refused(client: Client, target: str) -> ApiError:
    with pytest.raises(ApiError) as err:
        client.routes.create("evil", target)
    return err.value


@pytest.mark.parametrize("target", FORBIDDEN)
def test_internal_url_targets_are_400(alice: Client, target: str) -> None:
    err = _refused(alice, target)
    assert err.status == 400, target
    assert alice.routes.list() == []


def test_this_hosts_own_addresses_are_400(alice: Client) -> None:
    own, _internal = guard.host_networks()
    public_own = [ip for ip in own if not ip.is_loopback and ip.version == 4]
    for ip in public_own[:3]:
        assert _refused(alice, f"http://{ip}:80/").status == 400


def test_cumulo_own_ports_are_400_even_when_loopback_is_allowed(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server(outbound_allow="127.0.0.0/8", proxy_driver="fake")
    s = live.settings
    with register_and_login(live) as client:
        for port in (s.port, s.s3_port, s.proxy_http_port, s.proxy_https_port):
            err = _refused(client, f"http://127.0.0.1:{port}/")
            assert (err.status, err.code) == (400, "BLOCKED_DESTINATION"), port
        assert client.routes.list() == []


def test_another_users_instance_is_404_and_its_vpc_address_400(alice: Client, bob: Client) -> None:
    inst = bob.instances.launch("gw-victim", "cumulo/busybox", command=["sleep", "3600"], memory_mb=64, cpus=0.25)
    try:
        got = bob.instances.get(inst["id"])
        err = _refused(alice, f"instance:{inst['id']}:80")
        assert err.status == 404
        err = _refused(alice, f"instance:{inst['name']}:80")
        assert err.status == 404
        if got.get("ip_address"):
            assert _refused(alice, f"http://{got['ip_address']}:80/").status == 400
            assert _refused(bob, f"http://{got['ip_address']}:80/").status == 400  # own VPC: use instance:
        route = bob.routes.create("mine", f"instance:{inst['id']}:80")
        assert route["target"] == f"instance:{inst['id']}:80"
    finally:
        bob.instances.terminate(inst["id"])


def test_hostname_claims_span_routes_and_load_balancers(strict: LiveServer, alice: Client, bob: Client) -> None:
    from cumulo.services.gateway import service as gateway

    alice.routes.create("front", "http://93.184.216.34", hostname="shop.example.test")
    bob_id = bob.identity.me()["id"]
    alice_id = alice.identity.me()["id"]

    async def claim(user_id: str, hostname: str) -> None:
        assert strict.platform is not None
        async with strict.platform.db.session() as session:
            await gateway.claim_hostname(session, user_id, hostname, "loadbalancer", "lb-1")
            await session.commit()

    with pytest.raises(Conflict):
        strict.call(claim(bob_id, "shop.example.test"))
    strict.call(claim(alice_id, "shop.example.test"))  # the owner may put a load balancer on it
    strict.call(claim(bob_id, "lb.example.test"))
    with pytest.raises(ApiError) as err:
        alice.routes.create("taken", "http://93.184.216.34", hostname="lb.example.test")
    assert err.value.status == 409
    assert [r["name"] for r in alice.routes.list()] == ["front"]
