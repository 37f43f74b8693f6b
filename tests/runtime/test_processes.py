"""Separate processes on one installation: `cumulo api` with CUMULO_API_PROCESSES=2 (both processes
serve the port and share the limits); `cumulo api` and `cumulo worker` on PostgreSQL (a change made
through the API is converged by the worker at once, not at its next sweep); two worker processes
(never converging one object at once)."""

from __future__ import annotations

import contextlib
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

from cumulo.testing import eventually
from cumulo.testing.engine import containers
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


# --- api and worker as separate processes (PostgreSQL) -----------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env={**os.environ, "CUMULO_LOG_LEVEL": "warning", **env}, cwd=ROOT,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.wait(60)


def _cumulo() -> str:
    return CUMULO if shutil.which(CUMULO) else "cumulo"


@pytest.mark.docker
def test_a_change_through_the_api_is_converged_by_the_worker_at_once(tmp_path: Path, new_pg_database: str) -> None:
    """The worker sweeps instances only every 300 s: only the wake-up that crosses from the API
    process can recreate the container with the attached volume within the test's minute."""
    import docker

    port = free_port()
    proxy_port = free_port()
    env = {"CUMULO_DATABASE_URL": new_pg_database, "CUMULO_COMPUTE_RECONCILE_SECONDS": "300",
           "CUMULO_VOLUME_BACKEND": "plain", "CUMULO_AUTH_RATE_LIMIT": "1000/minute",
           "CUMULO_GATEWAY_RESYNC_SECONDS": "300", "CUMULO_PROXY_LISTEN_HOST": "127.0.0.1",
           "CUMULO_PROXY_HTTP_PORT": str(proxy_port), "CUMULO_PROXY_HTTPS_PORT": str(free_port()),
           "CUMULO_PROXY_STOP_ON_EXIT": "true"}
    api = _spawn([_cumulo(), "api", "--port", str(port), "--data-dir", str(tmp_path)], env)
    worker = None
    url = f"http://127.0.0.1:{port}"
    engine = docker.from_env()
    try:
        eventually(lambda: httpx.get(f"{url}/health/live", timeout=1).status_code == 200, 60,
                   what="cumulo api answering", ignore=(httpx.TransportError,))
        email = new_email()
        httpx.post(f"{url}/auth/register", json={"email": email, "password": PASSWORD, "name": "W"}).raise_for_status()
        key = httpx.post(f"{url}/auth/login", json={"email": email, "password": PASSWORD}).json()["api_key"]
        c = httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60)
        worker = _spawn([_cumulo(), "worker", "--data-dir", str(tmp_path)], env)
        eventually(lambda: _listening(new_pg_database), 120, 0.2, what="the worker listening for signals")
        time.sleep(3)  # its first sweeps (at start, of an empty installation) are over: the next is in 300 s
        c.post("/volumes", json={"name": "disk", "size_gb": 1}).raise_for_status()
        inst = c.post("/instances", json={"name": "web", "image": "cumulo/busybox", "command": [
            "sh", "-c", "echo served-by-web > /tmp/index.html; exec httpd -f -p 8000 -h /tmp"]}).json()
        eventually(lambda: c.get(f"/instances/{inst['id']}").json()["status"] == "RUNNING", 120,
                   what="the instance running")
        # The worker runs the proxy and resyncs it only every 300 s: the route made through the API
        # process serves within the minute only because the wake-up crossed to the worker.
        route = c.post("/routes", json={"name": "site", "target": f"instance:{inst['id']}:8000"}).json()
        host = httpx.URL(route["url"]).host

        def through_the_proxy() -> bool:
            answer = httpx.get(f"http://127.0.0.1:{proxy_port}/", headers={"Host": host}, timeout=5)
            return answer.status_code == 200 and "served-by-web" in answer.text

        eventually(through_the_proxy, 60, 0.2, what="the route served by the worker's proxy",
                   ignore=(httpx.TransportError,))
        c.post("/volumes/disk/attach", json={"instance_id": "web", "mount_path": "/data"}).raise_for_status()

        def mounted() -> bool:
            found = containers(engine, label=f"cumulo.resource={inst['id']}", status="running")
            return any(m["Destination"] == "/data" for ct in found for m in ct.attrs["Mounts"])

        eventually(mounted, 60, 0.2, what="the container recreated with the volume at /data")
        c.delete(f"/instances/{inst['id']}").raise_for_status()
        eventually(lambda: not engine.containers.list(all=True, filters={"label": f"cumulo.resource={inst['id']}"}),
                   60, what="the instance's container removed")
        c.delete("/volumes/disk").raise_for_status()
    finally:
        _stop(api, *([worker] if worker else []))
        caddy = tmp_path / "proxy" / "caddy.pid"  # Caddy runs in a session of its own: never left behind
        if caddy.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(caddy.read_text().strip()), signal.SIGKILL)
        installation = (tmp_path / "installation-id").read_text().strip()
        for ct in engine.containers.list(all=True, filters={"label": f"cumulo.installation={installation}"}):
            ct.remove(force=True)


def _listening(url: str) -> bool:
    """Whether a process listens for signals on the database (the worker, once its runner started)."""
    import psycopg

    from tests.conftest import PG_ADMIN_URL

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE 'LISTEN%%'",
                           (name,)).fetchone()
    return bool(row and row[0])


def _probe_log(log: Path) -> tuple[list[str], dict[str, list[tuple[str, str]]]]:
    """The overlaps in a probe log (keys entered while another process was inside) and each key's
    (event, pid) sequence."""
    by_key: dict[str, list[tuple[str, str]]] = {}
    inside: dict[str, str | None] = {}
    overlaps: list[str] = []
    for line in log.read_text().splitlines():
        what, key, pid = line.split()
        by_key.setdefault(key, []).append((what, pid))
        if what == "enter":
            if inside.get(key):
                overlaps.append(key)
            inside[key] = pid
        elif inside.get(key) == pid:
            inside[key] = None
    return overlaps, by_key


def test_two_worker_processes_never_converge_one_object_at_once(tmp_path: Path, new_pg_database: str) -> None:
    """Two worker processes run a test-only reconcile kind (``probe_worker.py``); every wake-up,
    sent from a third process, reaches both; each logs when it enters and leaves a key."""
    import asyncio

    from cumulo.db import migrate
    from cumulo.platform import build_platform
    from cumulo.runtime import reconcile
    from cumulo.testing.server import test_settings

    migrate.upgrade(new_pg_database)
    log = tmp_path / "probe.log"
    workers = [_spawn([sys.executable, "-m", "tests.runtime.probe_worker", new_pg_database,
                       str(tmp_path / f"w{i}"), str(log)], {}) for i in range(2)]
    try:
        eventually(lambda: len(list(tmp_path.glob("probe.log.*.ready"))) == 2, 60, what="two probe workers")

        async def wake_all() -> None:
            platform = build_platform(test_settings(str(tmp_path / "sender"), new_pg_database))
            for _ in range(8):
                for key in ("k1", "k2", "k3"):
                    reconcile.wake(platform, "probe", key)
                await asyncio.sleep(0.1)
            await platform.close()

        asyncio.run(wake_all())

        def both_converged_every_key() -> bool:
            _overlaps, by_key = _probe_log(log)
            return (len(by_key) == 3 and all(len({pid for _w, pid in seq}) == 2 for seq in by_key.values())
                    and all(seq[-1][0] == "exit" for seq in by_key.values()))  # and no one is inside now

        # (checked before the stop: a SIGTERM cancels a convergence in progress, leaving an "enter")
        eventually(both_converged_every_key, 60, what="both workers converging every key, then leaving it")
    finally:
        _stop(*workers)
    overlaps, _by_key = _probe_log(log)
    assert overlaps == []
