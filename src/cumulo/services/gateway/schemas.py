"""Request and response models of /routes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"
_SEGMENT = re.compile(r"^[A-Za-z0-9._~!$&'()+,;=:@-]+$")
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def normal_prefix(value: str) -> str:
    """``/api/v1/`` -> ``/api/v1``; 400 unless it is ``/`` or ``/``-separated plain segments."""
    if not value.startswith("/"):
        raise ValueError("prefix must start with /")
    stripped = value.rstrip("/")
    if not stripped:
        return "/"
    segments = stripped.split("/")[1:]
    if any(s in ("", ".", "..") or not _SEGMENT.match(s) for s in segments):
        raise ValueError("prefix must be / or segments of letters, digits and ._~!$&'()+,;=:@- "
                         "(no empty segment, no . or .., no * or %)")
    return stripped


class RouteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, description="lower-case letters, digits and -, 1-40 characters "
                      "(part of the generated hostname)")
    prefix: str = Field("/", max_length=200, description="path prefix, matched on segment boundaries")
    target: str = Field(min_length=1, max_length=2048, description="http(s)://host[:port][/base], "
                        "instance:<id>:<port> or loadbalancer:<id>")
    strip_prefix: bool = Field(False, description="remove the prefix before proxying")
    methods: list[Method] = Field(default_factory=list, max_length=7, description="empty: every method")
    hostname: str | None = Field(None, max_length=253, description="custom hostname (default: generated "
                                 "{name}-{user}.{base domain})")
    timeout_seconds: float = Field(60.0, ge=1, le=3600, description="the upstream must start answering within this")
    preserve_host: bool = Field(False, description="send the client's Host header upstream")
    require_api_key: bool = Field(False, description="callers must send an API key of the owner or a route key "
                                  "(X-API-Key or Authorization: Bearer)")
    rate_limit: float | None = Field(None, gt=0, le=100000, description="requests per second per client IP")

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return normal_prefix(value)


class RouteOut(BaseModel):
    id: str
    name: str
    hostname: str
    url: str = Field(description="what a client uses (HTTP on the proxy's public port)")
    https_url: str | None = Field(None, description="the same over HTTPS (internal CA unless ACME is configured)")
    prefix: str
    target: str
    strip_prefix: bool
    methods: list[str]
    timeout_seconds: float
    preserve_host: bool
    require_api_key: bool
    rate_limit: float | None
    created_at: dt.datetime
    updated_at: dt.datetime


class RouteKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("default", min_length=1, max_length=100)


class RouteKeyOut(BaseModel):
    id: str
    route_id: str
    name: str
    prefix: str
    created_at: dt.datetime


class RouteKeyCreatedOut(RouteKeyOut):
    key: str = Field(description="shown once")


class GatewayOut(BaseModel):
    http_port: int
    https_port: int
    base_domain: str
    acme: bool
