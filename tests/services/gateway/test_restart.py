"""Restart safety of the data plane: Cumulo restarted -> the running Caddy keeps serving (adopted,
not torn down) and is reconciled; a burst of changes is one push."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import httpx
import pytest

from cumulo.drivers.proxy.process import CaddyProcess
from cumulo.testing.server import LiveServer, free_port
from tests.conftest import PASSWORD, new_email
from tests.services.gateway.conftest import Front, launch_web, served


class Loop:
    """Requests in a loop from a thread, counting successes and failures."""

    def __init__(self, front: Front, path: str, headers: dict[str, str] | None = None, timeout: float = 10):
        self.front, self.path, self.headers, self.timeout = front, path, headers or {}, timeout
        self.ok = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=str(self.front.http.base_url), headers={"Host": self.front.host, **self.headers},
                          timeout=self.timeout, trust_env=False) as http:
            while not self._stop.is_set():
                try:
                    r = http.get(self.path)
                    if r.status_code == 200:
                        self.ok += 1
                    else:
                        self.failures.append(f"{r.status_code} {r.text[:80]}")
                except httpx.HTTPError as exc:
                    self.failures.append(type(exc).__name__)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.mark.docker  # needs dockerd (instances or function runtimes)
def test_cumulo_restart_never_stops_traffic(make_server: Callable[..., LiveServer],
                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    from cumulo.client import Client
    from cumulo.services.gateway.dataplane import dataplane

    data_dir = str(tmp_path_factory.mktemp("gw-restart"))
    ports = {"proxy_http_port": free_port(), "proxy_https_port": free_port()}
    first = make_server(data_dir=data_dir, proxy_stop_on_exit=False, **ports)
    caddy = CaddyProcess(Path(data_dir) / "proxy")
    try:
        email = new_email()
        client = Client(first.url)
        client.identity.register(email, PASSWORD, "Restart")
        client.identity.login(email, PASSWORD)
        inst = launch_web(client, "gw-restart")
        route = client.routes.create("steady", f"instance:{inst['id']}:8000")
        front = Front(route["url"])
        served(front, "/", "gw-restart")
        # a route whose every request asks Cumulo's check endpoint first: while no Cumulo runs its
        # requests wait for the check (the proxy keeps dialing it), they do not fail
        guarded = client.routes.create("guarded", f"instance:{inst['id']}:8000", require_api_key=True)
        guarded_front = Front(guarded["url"])
        served(guarded_front, "/", "gw-restart", headers={"X-API-Key": client.api_key or ""})
        assert first.platform is not None
        pid = dataplane(first.platform).process.pid  # type: ignore[union-attr]
        with Loop(front, "/during") as loop, \
                Loop(guarded_front, "/guarded", {"X-API-Key": client.api_key or ""}, timeout=60) as waiting:
            while loop.ok < 20:
                threading.Event().wait(0.05)
            first.stop()
            before = loop.ok
            while loop.ok < before + 20:  # the proxy keeps serving while no Cumulo runs
                threading.Event().wait(0.05)
            second = make_server(data_dir=data_dir, proxy_stop_on_exit=True, **ports)
            assert second.platform is not None
            dp = dataplane(second.platform)

            def synced() -> bool:
                return dp.syncs >= 1 and dp.applied is not None and len(dp.applied.routes) >= 1
            while not synced():
                threading.Event().wait(0.1)
            after = loop.ok
            while loop.ok < after + 20:
                threading.Event().wait(0.05)
        assert loop.failures == []
        while waiting.ok < 20:  # the guarded route answers again once the new Cumulo's check is up
            threading.Event().wait(0.05)
        assert waiting.failures == []
        assert dp.process is not None and dp.process.pid == pid and dp.process.starts == 0  # adopted
        assert dp.reloads == 0  # the running config was already the desired one
        second_client = Client(second.url, api_key=client.api_key)
        second_client.routes.delete(route["id"])
        second_client.routes.delete(guarded["id"])
        guarded_front.close()
        second_client.instances.terminate(inst["id"])
        front.close()
    finally:
        asyncio.run(caddy.stop())  # whichever server got this far


@pytest.mark.docker  # needs dockerd (instances or function runtimes)
def test_burst_of_changes_is_one_push(gw_server: LiveServer, gw_user: Any, web: Callable[[str], dict[str, Any]],
                                      front: Callable[[str], Front]) -> None:
    from cumulo.core.principal import Principal
    from cumulo.services.gateway import providers
    from cumulo.services.gateway import service as gateway
    from cumulo.services.gateway.dataplane import dataplane
    from cumulo.services.gateway.schemas import RouteCreate

    inst = web("gw-burst")
    first = gw_user.routes.create("burst-0", f"instance:{inst['id']}:8000")
    served(front(first["url"]), "/", "gw-burst")
    assert gw_server.platform is not None
    platform = gw_server.platform
    dp = dataplane(platform)
    me = gw_user.identity.me()
    user = Principal(user_id=me["id"], email=me["email"], name=me["name"], role="user", key_id="-")

    async def burst() -> int:
        reloads = dp.reloads
        for i in range(1, 21):
            async with platform.db.session() as session:
                await gateway.create(platform, session, user, RouteCreate(
                    name=f"burst-{i}", target=f"instance:{inst['id']}:8000", prefix=f"/b{i}"))
            await providers.changed(platform)
        return reloads

    reloads = gw_server.call(burst())
    last = front(gw_user.routes.get("burst-20")["url"])
    served(last, "/b20", "gw-burst")
    assert dp.reloads == reloads + 1
    for i in range(21):
        gw_user.routes.delete(f"burst-{i}")
