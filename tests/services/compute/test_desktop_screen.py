"""The desktop WebSocket ``/instances/{id}/vnc`` of a container, capped like a VM's display (the same
code, ``compute.console.serve_screen``): past ``CUMULO_VM_VNC_SESSIONS_PER_VM`` open screens of one
instance, or ``CUMULO_VM_VNC_SESSIONS_PER_USER`` of one user, 429 (close 4429); a closed screen frees
its slots; a deleted instance's slot files go with it. A light stand-in for the ``cumulo/desktop`` image: busybox ``nc -ll`` on port 5900 greeting
each viewer with ``RFB 003.008`` as x11vnc does (the relay does not care what speaks RFB)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from websockets.sync import client as ws_client

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login

pytestmark = pytest.mark.docker

GREETING = b"RFB 003.008\n"
FAKE_VNC = ["sh", "-c", ("printf '#!/bin/sh\\necho RFB 003.008\\nexec sleep 600\\n' > /greet && chmod 755 /greet "
                         "&& exec nc -ll -p 5900 -e /greet")]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from cumulo.testing.server import test_settings

    server = LiveServer(test_settings(str(tmp_path_factory.mktemp("desktop-screen")), vm_vnc_sessions_per_vm=2,
                                      vm_vnc_sessions_per_user=3)).start()
    yield server
    server.stop()


def _launch(client: Client, command: list[str]) -> dict[str, Any]:
    inst = client.instances.launch(f"desk-{uuid.uuid4().hex[:8]}", "cumulo/busybox", command=command, memory_mb=32,
                                   cpus=0.1)
    assert inst["status"] == "RUNNING", inst
    return inst


@contextlib.contextmanager
def screen(live: LiveServer, inst: dict[str, Any], headers: dict[str, str] | None) -> Iterator[Any]:
    url = live.url.replace("http://", "ws://", 1) + f"/instances/{inst['id']}/vnc"
    with ws_client.connect(url, additional_headers=headers or {}, subprotocols=["binary"],
                           open_timeout=15) as conn:
        yield conn


def refused(conn: Any) -> tuple[str, int, str]:
    error = json.loads(conn.recv(timeout=30))["error"]
    with pytest.raises(websockets.ConnectionClosed) as closed:
        conn.recv(timeout=30)
    return error["code"], closed.value.rcvd.code, error["message"]  # type: ignore[union-attr]


def greeted(conn: Any) -> bool:
    """The VNC server behind the relay answered: this screen is open (and holds its slots). False
    for a refusal (its error comes as a text frame)."""
    data = b""
    while len(data) < len(GREETING):
        frame = conn.recv(timeout=30)
        if isinstance(frame, str):
            return False
        data += frame
    return data == GREETING


def test_open_desktops_are_capped_per_instance_and_per_user_and_a_closed_one_frees_its_slots(
        live: LiveServer) -> None:
    from cumulo.testing.polling import eventually

    with register_and_login(live) as client:
        made: list[dict[str, Any]] = []
        try:
            first, second = _launch(client, FAKE_VNC), _launch(client, FAKE_VNC)
            silent = _launch(client, ["sleep", "600"])  # nothing listens on its port 5900
            made += [first, second, silent]
            headers = client.headers()

            def answering() -> bool:  # nc listens once the container's shell has run
                with screen(live, first, headers) as conn:
                    return greeted(conn)

            assert eventually(answering, 60, 0.5, what="the stand-in VNC server")
            with contextlib.ExitStack() as stack:
                opened: list[Any] = []

                def open_one(inst: dict[str, Any]) -> Any:
                    conn = stack.enter_context(screen(live, inst, headers))
                    assert greeted(conn)
                    opened.append(conn)
                    return conn

                open_one(first)
                open_one(first)  # CUMULO_VM_VNC_SESSIONS_PER_VM=2 of this instance
                with screen(live, first, headers) as conn:
                    code, close, message = refused(conn)
                assert (code, close) == ("RATE_LIMITED", 4429) and "SESSIONS_PER_VM" in message
                open_one(second)  # another instance: the user's third (CUMULO_VM_VNC_SESSIONS_PER_USER=3)
                with screen(live, second, headers) as conn:
                    code, close, message = refused(conn)
                assert (code, close) == ("RATE_LIMITED", 4429) and "SESSIONS_PER_USER" in message
                with screen(live, silent, headers) as conn:  # the user's cap is checked before the dial
                    assert refused(conn)[:2] == ("RATE_LIMITED", 4429)
                opened[0].close()  # a closed desktop frees its slots

                def reopened() -> bool:
                    with screen(live, second, headers) as conn:
                        return greeted(conn)

                assert eventually(reopened, 30, 0.5, what="a slot freed by the closed desktop")

            def unavailable() -> bool:  # all closed (the relays end a moment later): slots free again
                with screen(live, silent, headers) as conn:
                    return refused(conn)[:2] == ("UNAVAILABLE", 4503)

            assert eventually(unavailable, 30, 0.5, what="4503: no VNC server on the instance")
            for _ in range(4):  # a refused dial gives its slots back before it answers: never 429 here
                with screen(live, silent, headers) as conn:
                    code, close, message = refused(conn)
                assert (code, close) == ("UNAVAILABLE", 4503) and "port 5900" in message, message
        finally:
            for inst in made:
                client.instances.terminate(inst["id"])


def test_another_users_desktop_is_404_and_no_key_4401(live: LiveServer) -> None:
    with register_and_login(live) as client, register_and_login(live) as other:
        inst = _launch(client, ["sleep", "600"])
        try:
            with screen(live, inst, other.headers()) as conn:
                assert refused(conn)[:2] == ("NOT_FOUND", 4404)
            with screen(live, inst, None) as conn:
                assert refused(conn)[1] == 4401
        finally:
            client.instances.terminate(inst["id"])



def test_a_deleted_instances_screen_slot_files_are_removed_with_it(live: LiveServer) -> None:
    """Each screen opened leaves its slot files (``<data dir>/vnc-slots/screens/<screen>/slot-N``, the
    locks that cap it across processes); deleting the instance removes them, so the data directory
    does not grow with every desktop ever opened."""
    from cumulo.drivers.vm import slots
    from cumulo.testing.polling import eventually

    screens = slots.screen_root(live.settings.data_dir) / "screens"
    with register_and_login(live) as client:
        inst = _launch(client, FAKE_VNC)
        try:
            before = set(screens.iterdir()) if screens.exists() else set()

            def answering() -> bool:
                with screen(live, inst, client.headers()) as conn:
                    return greeted(conn)

            assert eventually(answering, 60, 0.5, what="the stand-in VNC server")
            made = set(screens.iterdir()) - before
            assert len(made) == 1 and [p.name for p in next(iter(made)).iterdir()] == ["slot-0"]
        finally:
            client.instances.terminate(inst["id"])
        assert not next(iter(made)).exists()
        assert set(screens.iterdir()) == before
