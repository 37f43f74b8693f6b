"""Outbound HTTP to user-given URLs (webhooks, cron targets), behind the SSRF guard (``guard.py``).

Every connection of ``pooled_client(platform)`` goes through the guard at connect time: the name is
resolved, every address vetted (loopback, this host's addresses and internal networks, link-local,
private, multicast and reserved ranges are refused unless ``CUMULO_OUTBOUND_ALLOW`` covers them;
Cumulo's own API/S3 ports on this host always are), and the vetted address dialled, keeping the
Host header and TLS SNI. ``check(platform, url)`` gives the same answer early, when a URL is saved.
Redirects are not followed unless a caller asks (then every hop is vetted the same way).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from cumulo.core.errors import InvalidInput
from cumulo.drivers.http.guard import BlockedDestination, allow_list, check_syntax, check_url

__all__ = ["BlockedDestination", "Outcome", "check", "check_syntax", "own_ports", "pooled_client", "request"]

EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    latency_ms: int
    excerpt: str
    blocked: bool = False  # the SSRF guard refused the destination

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def own_ports(platform: Any) -> set[int]:
    """Cumulo's own listening ports: refused as outbound destinations on this host."""
    return settings_ports(platform.settings)


def settings_ports(settings: Any) -> set[int]:
    ports = {settings.port, settings.s3_port}
    metrics = getattr(settings, "metrics_address", None)
    if metrics and ":" in metrics:
        try:
            ports.add(int(metrics.rsplit(":", 1)[1]))
        except ValueError:
            pass
    return ports


def pooled_client(platform: Any) -> httpx.AsyncClient:
    """One guarded, pooled client per process for outbound calls: ``platform.drivers.http``."""
    return platform.drivers.http  # type: ignore[no-any-return]


async def check(platform: Any, url: str) -> None:
    """400 now for a URL the guard would refuse (bad syntax, unknown host, refused address)."""
    await check_url(url, allow_list(platform.settings), own_ports=own_ports(platform))


async def request(client: httpx.AsyncClient, method: str, url: str, *,
                  headers: dict[str, str] | None = None, content: bytes | None = None,
                  timeout: float = 10.0, max_redirects: int = 0) -> Outcome:
    """One guarded request; never raises for network trouble (the outcome says what happened).

    ``client`` must come from ``pooled_client``/``guard.guarded_client``: the guard runs in its
    transport, at connect time and for each redirect hop (``max_redirects`` > 0 follows them).
    """
    start = time.monotonic()

    def done(status: int | None, error: str | None, excerpt: str = "", blocked: bool = False) -> Outcome:
        return Outcome(status, error, int((time.monotonic() - start) * 1000), excerpt, blocked)

    try:
        check_syntax(url)
        sent = client.build_request(method, url, headers=headers, content=content, timeout=timeout)
        for hop in range(max_redirects + 1):
            response = await client.send(sent, stream=True)
            try:
                if response.next_request is not None and hop < max_redirects:
                    sent = response.next_request  # the next hop's connection is vetted again
                    continue
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= EXCERPT_BYTES:
                        break
                excerpt = body[:EXCERPT_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")  # storable text
                return done(response.status_code, None, excerpt)
            finally:
                await response.aclose()
        raise AssertionError("unreachable")
    except BlockedDestination as exc:
        return done(None, exc.message, blocked=True)
    except InvalidInput as exc:
        return done(None, exc.message)
    except httpx.TimeoutException:
        return done(None, f"timed out after {timeout:g} s")
    except httpx.HTTPError as exc:
        return done(None, f"{exc.__class__.__name__}: {exc}"[:500])
