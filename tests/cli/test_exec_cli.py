"""``cumulo exec NAME -- cmd`` (no TTY, output and exit code as the command's) and ``cumulo ssh``
with piped input (a script: plain output, no terminal escape codes), against real containers."""

from __future__ import annotations

import uuid

import httpx
import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it


@pytest.fixture
def running(sqlite_user: Client):  # type: ignore[no-untyped-def]
    name = f"exec-{uuid.uuid4().hex[:6]}"
    inst = sqlite_user.instances.launch(name, "cumulo/busybox", command=["sleep", "3600"])
    assert inst["status"] == "RUNNING", inst
    yield name
    sqlite_user.instances.terminate(name)


def test_exec_passes_output_and_exit_code_through(sqlite_cli, running: str) -> None:  # type: ignore[no-untyped-def]
    result = sqlite_cli("exec", running, "--", "sh", "-c", "echo out; echo err >&2; exit 3", ok=False)
    assert result.exit_code == 3
    assert result.stdout == "out\n" and result.stderr == "err\n"
    assert sqlite_cli("exec", running, "--", "cat", "/etc/passwd").stdout.startswith("root:")


def test_exec_is_killed_at_its_timeout(sqlite_cli, running: str) -> None:  # type: ignore[no-untyped-def]
    result = sqlite_cli("exec", running, "--timeout", "1", "--", "sleep", "77", ok=False)
    assert result.exit_code == 124 and "killed after 1s" in result.stderr
    processes = sqlite_cli("exec", running, "--", "ps").stdout
    assert "sleep 77" not in processes and "sleep 3600" in processes


def test_ssh_with_piped_input_runs_a_plain_script(sqlite_cli, running: str) -> None:  # type: ignore[no-untyped-def]
    result = sqlite_cli("ssh", running, input="echo hello\ncd /etc && pwd\nexit 5\n", ok=False)
    assert result.exit_code == 5
    assert result.stdout == "hello\n/etc\n" and "\x1b" not in result.output


def test_exec_api_errors(sqlite_user: Client, server_sqlite: LiveServer, running: str) -> None:
    url = f"{server_sqlite.url}/instances/{running}/exec"
    r = httpx.post(url, json={"command": []}, headers=sqlite_user.headers())
    assert r.status_code == 400
    r = httpx.post(url, json={"command": ["true"], "timeout_seconds": 601}, headers=sqlite_user.headers())
    assert r.status_code == 400
    with register_and_login(server_sqlite) as other:
        r = httpx.post(url, json={"command": ["true"]}, headers=other.headers())
        assert r.status_code == 404
    sqlite_user.instances.stop(running)
    r = httpx.post(url, json={"command": ["true"]}, headers=sqlite_user.headers())
    assert r.status_code == 409 and "RUNNING" in r.json()["error"]["message"]
