"""Load balancer request/response models (the public contract of ``/loadbalancers``).

Health-check limits follow AWS ALB target groups (thresholds 2-10, timeout below the interval,
matcher codes 200-499 by default 200-399 here, weights 0-999, deregistration delay 0-3600 s), except
that the interval may go down to 1 s (ALB: 5 s) so a small installation can react fast.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
COOKIE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PATH = re.compile(r"^/[\x21-\x7e]{0,1023}$")
Algorithm = Literal["round_robin", "least_conn", "ip_hash", "random", "first"]
Health = Literal["initial", "healthy", "unhealthy", "unused", "draining"]


def parse_matcher(value: str) -> list[tuple[int, int]]:
    """``"200"``, ``"200,302"`` or ``"200-399"`` (and mixes) -> inclusive ranges of status codes."""
    ranges = []
    for part in value.replace(" ", "").split(","):
        low, sep, high = part.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise ValueError(f"matcher {value!r}: use codes and ranges such as 200, 200,302 or 200-399")
        lo, hi = int(low), int(high) if sep else int(low)
        if not 200 <= lo <= hi <= 499:
            raise ValueError(f"matcher {value!r}: codes must be between 200 and 499, low before high")
        ranges.append((lo, hi))
    return ranges


def matches(ranges: list[tuple[int, int]], status: int) -> bool:
    return any(lo <= status <= hi for lo, hi in ranges)


def check_name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("name must be 1-32 characters: lowercase letters, digits and '-', starting and ending "
                         "with a letter or digit (it becomes part of the load balancer's hostname)")
    return value


def check_hostname(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower().rstrip(".")
    if not HOSTNAME.match(value):
        raise ValueError("hostname must be a DNS name such as shop.example.com (letters, digits, '-' and dots; "
                         "no wildcard, no port)")
    return value


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HealthCheckIn(In):
    path: str = Field("/", max_length=1024, description="HTTP path requested on every target")
    port: int | None = Field(None, ge=1, le=65535, description="default: the target's own port")
    interval_seconds: float = Field(30, ge=1, le=300)
    timeout_seconds: float = Field(5, ge=0.5, le=120)
    healthy_threshold: int = Field(5, ge=2, le=10, description="consecutive passes that make an unhealthy "
                                   "target healthy again")
    unhealthy_threshold: int = Field(2, ge=2, le=10, description="consecutive failures that take a target out")
    matcher: str = Field("200-399", max_length=64, validation_alias=AliasChoices("matcher", "expected_status"),
                         description="status codes counted as healthy: 200, 200,302 or 200-399")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not PATH.match(value):
            raise ValueError("path must start with '/' and hold no spaces or control characters")
        return value

    @field_validator("matcher")
    @classmethod
    def _matcher(cls, value: str) -> str:
        parse_matcher(value)
        return value.replace(" ", "")

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> HealthCheckIn:
        if self.timeout_seconds >= self.interval_seconds:
            raise ValueError(f"health_check: timeout_seconds ({self.timeout_seconds:g}) must be less than "
                             f"interval_seconds ({self.interval_seconds:g})")
        return self


class HealthCheckPatch(In):
    path: str | None = Field(None, max_length=1024)
    port: int | None = Field(None, ge=1, le=65535)
    interval_seconds: float | None = Field(None, ge=1, le=300)
    timeout_seconds: float | None = Field(None, ge=0.5, le=120)
    healthy_threshold: int | None = Field(None, ge=2, le=10)
    unhealthy_threshold: int | None = Field(None, ge=2, le=10)
    matcher: str | None = Field(None, max_length=64, validation_alias=AliasChoices("matcher", "expected_status"))


class StickyIn(In):
    cookie_name: str = Field("cumulo_lb", max_length=64, description="the cookie that pins a client to a target")

    @field_validator("cookie_name")
    @classmethod
    def _cookie(cls, value: str) -> str:
        if not COOKIE.match(value):
            raise ValueError("cookie_name: 1-64 letters, digits, '_' or '-'")
        return value


class TargetIn(In):
    instance_id: str = Field(min_length=1, max_length=64, description="one of your instances (id or name)")
    port: int = Field(ge=1, le=65535, description="the port the instance listens on (its VPC address)")
    weight: int = Field(1, ge=0, le=999, description="relative share under round_robin (0: never chosen)")


class TargetRef(In):
    instance_id: str = Field(min_length=1, max_length=64)
    port: int | None = Field(None, ge=1, le=65535, description="default: every port of that instance")


def _no_duplicates(targets: list[TargetIn]) -> list[TargetIn]:
    seen = set()
    for t in targets:
        if (t.instance_id, t.port) in seen:
            raise ValueError(f"targets: {t.instance_id} port {t.port} is listed twice")
        seen.add((t.instance_id, t.port))
    return targets


class TargetsIn(In):
    targets: list[TargetIn] = Field(min_length=1, max_length=1000)

    _unique = field_validator("targets")(_no_duplicates)


class TargetsOut(In):
    targets: list[TargetRef] = Field(min_length=1, max_length=1000)


class LoadBalancerCreate(In):
    name: str = Field(max_length=32)
    port: int | None = Field(None, ge=1, le=65535, description="serve on this dedicated port (plain HTTP) "
                             "instead of a hostname on the shared HTTP/HTTPS ports")
    hostname: str | None = Field(None, max_length=253, description="a custom hostname you claim (default: "
                                 "{name}-{user}.{base domain})")
    algorithm: Algorithm = "round_robin"
    health_check: HealthCheckIn = Field(default_factory=HealthCheckIn)
    sticky: StickyIn | None = None
    deregistration_delay_seconds: int = Field(300, ge=0, le=3600)
    targets: list[TargetIn] = Field(default_factory=list, max_length=1000)

    _name = field_validator("name")(check_name)
    _hostname = field_validator("hostname")(check_hostname)
    _unique = field_validator("targets")(_no_duplicates)

    @model_validator(mode="after")
    def _port_or_hostname(self) -> LoadBalancerCreate:
        if self.port is not None and self.hostname is not None:
            raise ValueError("give either port (a dedicated listener) or hostname, not both")
        return self


class LoadBalancerUpdate(In):
    name: str | None = Field(None, max_length=32)
    hostname: str | None = Field(None, max_length=253, description="a custom hostname; null: the generated one")
    algorithm: Algorithm | None = None
    health_check: HealthCheckPatch | None = None
    sticky: StickyIn | None = None
    deregistration_delay_seconds: int | None = Field(None, ge=0, le=3600)
    targets: list[TargetIn] | None = Field(None, max_length=1000, description="the whole new target list: "
                                           "targets left out drain and go")

    _name = field_validator("name")(check_name)
    _hostname = field_validator("hostname")(check_hostname)

    @field_validator("targets")
    @classmethod
    def _targets(cls, value: list[TargetIn] | None) -> list[TargetIn] | None:
        return None if value is None else _no_duplicates(value)


class HealthCheckOut(BaseModel):
    path: str
    port: int | None
    interval_seconds: float
    timeout_seconds: float
    healthy_threshold: int
    unhealthy_threshold: int
    matcher: str


class TargetOut(BaseModel):
    id: str
    instance_id: str
    port: int
    weight: int
    address: str | None = Field(description="the instance's VPC address the proxy dials")
    health: Health
    reason: str | None = Field(description="why the target is in this state")
    reason_code: str | None = Field(description="ALB-style code, e.g. Target.Timeout")
    last_failure: str | None = Field(description="the last failed health check, kept after recovery")
    last_failure_at: dt.datetime | None
    health_since: dt.datetime | None
    drain_until: dt.datetime | None
    in_service: bool = Field(description="the proxy sends new requests to it now")


class LoadBalancerOut(BaseModel):
    id: str
    name: str
    url: str = Field(description="what a client uses to reach the load balancer")
    hostname: str | None
    port: int | None
    algorithm: Algorithm
    health_check: HealthCheckOut
    sticky: StickyIn | None
    deregistration_delay_seconds: int
    targets: list[TargetOut]
    in_service: int = Field(description="targets receiving new requests")
    fail_open: bool = Field(description="no target is healthy and some failed their checks, so every "
                            "registered running target is served (as ALB does) rather than none")
    status_message: str
    created_at: dt.datetime
    updated_at: dt.datetime


class Histogram(BaseModel):
    buckets: list[tuple[str, int]] = Field(description="cumulative counts by upper bound in seconds ('+Inf' last)")
    count: int
    sum_seconds: float


class MetricsOut(BaseModel):
    load_balancer_id: str
    requests: int
    responses_by_class: dict[str, int] = Field(description="1xx..5xx")
    errors: int = Field(description="4xx + 5xx answers")
    latency: Histogram
    upstreams: list[dict[str, int | str]] = Field(description="per target address: requests in flight and "
                                                  "recent failures as the proxy sees them")
