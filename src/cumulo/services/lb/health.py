"""The health state machine of a target, and one HTTP health check (run from the host to the
target's VPC address, as the proxy reaches it).

States (ALB's names): ``initial`` (registered, not checked yet), ``healthy``, ``unhealthy``,
``unused`` (its instance is not running), ``draining`` (deregistered). A new target becomes healthy
at its first passing check (so it takes traffic within one interval) and unhealthy after
``unhealthy_threshold`` consecutive failures; an unhealthy target needs ``healthy_threshold``
consecutive passes to come back. Counters live in the prober's memory; states in the database.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from cumulo.services.lb.schemas import matches, parse_matcher

CONNECT_FAILED = "Target.FailedHealthChecks"  # no connection at all: the proxy's own dials fail the same way


@dataclass
class Counters:
    passes: int = 0
    fails: int = 0


@dataclass(frozen=True)
class Result:
    ok: bool
    reason: str | None = None  # why it failed
    code: str | None = None  # ALB-style reason code


def step(health: str, counters: Counters, result: Result, healthy_threshold: int, unhealthy_threshold: int) -> str:
    """The next state of an active (not draining, not unused) target after one check."""
    if result.ok:
        counters.passes, counters.fails = counters.passes + 1, 0
    else:
        counters.passes, counters.fails = 0, counters.fails + 1
    if health == "initial":
        if result.ok:
            return "healthy"
        return "unhealthy" if counters.fails >= unhealthy_threshold else "initial"
    if health == "healthy":
        return "unhealthy" if counters.fails >= unhealthy_threshold else "healthy"
    if health == "unhealthy":
        return "healthy" if counters.passes >= healthy_threshold else "unhealthy"
    return health


def new_client() -> httpx.AsyncClient:
    """No proxies from the environment, no keep-alive (every check is a fresh connection, as a new
    client's would be), no redirects followed (a 3xx is an answer the matcher judges)."""
    return httpx.AsyncClient(trust_env=False, follow_redirects=False,
                             limits=httpx.Limits(max_connections=256, max_keepalive_connections=0))


async def check(client: httpx.AsyncClient, address: str, port: int, path: str, timeout: float,
                matcher: str) -> Result:
    url = f"http://{address}:{port}{path}"
    try:
        response = await client.get(url, timeout=timeout, headers={"User-Agent": "Cumulo-HealthChecker/1.0"})
    except httpx.ConnectTimeout:
        return Result(False, f"health check could not connect to {address}:{port} within {timeout:g} s",
                      CONNECT_FAILED)
    except httpx.ConnectError as exc:
        return Result(False, f"health check could not connect to {address}:{port} ({_brief(exc)})", CONNECT_FAILED)
    except httpx.TimeoutException:
        return Result(False, f"health check timed out after {timeout:g} s ({url})", "Target.Timeout")
    except httpx.HTTPError as exc:
        return Result(False, f"health check failed: {exc.__class__.__name__} {_brief(exc)}",
                      "Target.HealthCheckFailed")
    if not matches(parse_matcher(matcher), response.status_code):
        return Result(False, f"health check answered {response.status_code} (expected {matcher})",
                      "Target.ResponseCodeMismatch")
    return Result(True)


def _brief(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    return text.split("] ", 1)[-1][:200]
