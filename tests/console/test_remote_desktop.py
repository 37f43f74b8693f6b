"""In Chromium: a cumulo/desktop instance's desktop through noVNC, behind the instance's password.

A module of its own, the last of its xdist group (``GROUP_A``): on a fresh machine the image is built
at its first launch (about 5 minutes), and the group's ``desktop_image`` fixture starts that build when
the group begins, so the build runs while the group's other modules do and this test waits only for
what is left of it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.console.conftest import DESKTOP_GROUP, Account, uname

pytestmark = DESKTOP_GROUP


def _refused(url: str, **kw: Any) -> tuple[str, int]:
    """The error code and close code of a desktop WebSocket the server turned down."""
    import json

    import websockets
    from websockets.sync import client as ws_client

    with ws_client.connect(url, open_timeout=15, **kw) as conn:
        code = json.loads(conn.recv(timeout=30))["error"]["code"]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            conn.recv(timeout=30)
    return code, closed.value.rcvd.code  # type: ignore[union-attr]


def test_a_desktop_instance_shows_its_screen_behind_the_instances_password(account: Callable[[], Account]) -> None:
    """The cumulo/desktop catalogue image (Xvfb, fluxbox, Firefox, x11vnc) launched with a password:
    its page shows the desktop through noVNC over /instances/{id}/vnc once that password is typed; a
    wrong one is refused by its VNC server; nobody else reaches it."""
    import socket

    from cumulo.testing.polling import eventually

    acc, other = account(), account()
    name, password = uname("desk"), f"pw{uuid.uuid4().hex[:6]}"
    try:
        r = acc.api.post("/instances", json={"name": name, "image": "cumulo/desktop", "password": password,
                                             "memory_mb": 1024}, timeout=300)
        assert r.status_code == 201 and r.json()["status"] in ("RUNNING", "PENDING"), r.text
        inst = r.json()
        if inst["status"] == "PENDING":  # a fresh machine: the image is built at its first launch (~5 min)
            def running() -> bool:
                nonlocal inst
                inst = acc.api.get(f"/instances/{inst['id']}").json()
                assert inst["status"] != "ERROR", inst
                return bool(inst["status"] == "RUNNING")

            eventually(running, 900, 2, what="the cumulo/desktop image built and the instance running")

        def listening() -> bool:  # x11vnc starts once Xvfb and fluxbox are up
            with contextlib.suppress(OSError), socket.create_connection((inst["ip_address"], 5900), timeout=2):
                return True
            return False

        eventually(listening, 180, 0.5, what="the desktop's VNC server")
        ws = acc.live.url.replace("http://", "ws://", 1) + f"/instances/{inst['id']}/vnc"
        assert _refused(ws, additional_headers={"X-API-Key": other.api.headers["X-API-Key"]}) == ("NOT_FOUND", 4404)
        assert _refused(ws)[1] == 4401

        page = acc.log_in()
        page.goto(acc.url(f"/console/instances/{inst['id']}"))
        page.get_by_role("heading", name="Screen").wait_for()
        page.get_by_role("button", name="Open screen").click()
        page.get_by_label("Instance password").fill("wrong-one")
        page.get_by_role("button", name="Connect").click()
        page.locator("#screen-state").get_by_text("VNC refused the connection").wait_for(timeout=60_000)
        page.get_by_role("button", name="Close screen").click()
        page.get_by_role("button", name="Open screen").click()
        page.get_by_label("Instance password").fill(password)
        page.get_by_role("button", name="Connect").click()
        page.locator("#screen-state").get_by_text("Connected to cumulo-desktop").wait_for(timeout=60_000)
        page.wait_for_function(  # the desktop is drawn: some pixel of the framebuffer is lit
            """() => { const c = document.querySelector('.screen canvas');
                 if (!c || !c.width) return false;
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 0) return true;
                 return false; }""", timeout=60_000)
        assert page.locator(".screen canvas").evaluate("c => c.width") == 1280
    finally:
        acc.api.delete(f"/instances/{name}", timeout=120)
