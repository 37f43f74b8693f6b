"""Health checks of replicas, run by Cumulo (not Docker's HEALTHCHECK): an HTTP GET on the
replica's VPC address from the worker (as the load balancer's prober does), or a command run in
the replica's container. Each returns ``None`` when it passed, else why it failed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from cumulo.core.errors import CumuloError
from cumulo.drivers.compute.base import ComputeDriver


def new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(trust_env=False, follow_redirects=False,
                             limits=httpx.Limits(max_connections=64, max_keepalive_connections=0))


async def http(client: httpx.AsyncClient, address: str, port: int, path: str, timeout: float) -> str | None:
    try:
        r = await client.get(f"http://{address}:{port}{path}", timeout=timeout)
    except httpx.TimeoutException:
        return f"GET {path} on port {port}: no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        return f"GET {path} on port {port}: {exc.__class__.__name__} (nothing listening?)"
    if not 200 <= r.status_code < 400:
        return f"GET {path} on port {port} answered {r.status_code}"
    return None


async def command(driver: ComputeDriver, container: str, cmd: str, timeout: float) -> str | None:
    try:
        code = await asyncio.wait_for(driver.run_command(container, ["/bin/sh", "-c", cmd]), timeout)
    except TimeoutError:
        return f"command did not finish within {timeout:g} s"
    except CumuloError as exc:
        return f"command could not run: {exc.message}"
    return None if code == 0 else f"command exited with {code}"


async def check(client: httpx.AsyncClient, driver: ComputeDriver, hc: dict[str, Any] | None, ports: list[int],
                address: str | None, container: str) -> str | None:
    """Run the revision's check once (no check: passing while the container runs)."""
    if not hc:
        return None
    if hc.get("command"):
        return await command(driver, container, hc["command"], float(hc["timeout_seconds"]))
    if not address:
        return "the replica has no network address"
    port = hc.get("port") or ports[0]
    return await http(client, address, int(port), hc["http_path"], float(hc["timeout_seconds"]))
