"""`cumulo api` with CUMULO_API_PROCESSES=2: both processes serve the port and share the limits."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cumulo.testing.server import free_port
from tests.conftest import PASSWORD, new_email

CUMULO = str(Path(sys.executable).parent / "cumulo")


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "CUMULO_API_PROCESSES": "2", "CUMULO_RATE_LIMIT": "30/day",
           "CUMULO_AUTH_RATE_LIMIT": "1000/minute", "CUMULO_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([CUMULO if shutil.which(CUMULO) else "cumulo", "api", "--port", str(port),
                             "--data-dir", str(tmp_path)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/health/live", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, "cumulo api did not start"
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def _statuses(url: str, key: str, connections: int) -> tuple[int, int]:
    """GET /auth/me on a fresh connection each time (the kernel spreads them over both processes):
    how many were answered and how many were rate limited."""
    ok = limited = 0
    for _ in range(connections):
        with httpx.Client(base_url=url, headers={"X-API-Key": key}) as c:  # a new connection each time
            status = c.get("/auth/me").status_code
            ok += status == 200
            limited += status == 429
    return ok, limited


def test_the_per_key_limit_holds_across_processes(two_processes: str) -> None:
    url, email = two_processes, new_email()
    httpx.post(f"{url}/auth/register", json={"email": email, "password": PASSWORD, "name": "Two"}).raise_for_status()
    key = httpx.post(f"{url}/auth/login", json={"email": email, "password": PASSWORD}).json()["api_key"]
    ok, limited = _statuses(url, key, 60)
    assert ok == 30 and limited == 30


def test_a_revoked_key_is_refused_by_every_process_at_once(two_processes: str) -> None:
    url, email = two_processes, new_email()
    httpx.post(f"{url}/auth/register", json={"email": email, "password": PASSWORD, "name": "Two"}).raise_for_status()
    key = httpx.post(f"{url}/auth/login", json={"email": email, "password": PASSWORD}).json()["api_key"]
    spare = httpx.post(f"{url}/auth/keys", json={"name": "spare"}, headers={"X-API-Key": key}).json()
    for _ in range(6):  # warm both processes with the spare key
        with httpx.Client() as c:
            assert c.get(f"{url}/auth/me", headers={"X-API-Key": spare["key"]}).status_code == 200
    httpx.delete(f"{url}/auth/keys/{spare['id']}", headers={"X-API-Key": key}).raise_for_status()
    for _ in range(6):
        with httpx.Client() as c:
            assert c.get(f"{url}/auth/me", headers={"X-API-Key": spare["key"]}).status_code == 401
