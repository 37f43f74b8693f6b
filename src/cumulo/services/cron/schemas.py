"""Cron request and response models."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cumulo.services.cron import schedule

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
MissedRuns = Literal["run_once", "skip"]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _headers(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return value
    if len(value) > 20:
        raise ValueError("at most 20 headers")
    for key, item in value.items():
        if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}", key):
            raise ValueError(f"invalid header name {key[:100]!r}")
        if len(item) > 4096 or re.search(r"[\x00-\x08\x0a-\x1f\x7f]", item):
            raise ValueError(f"header {key!r}: values are at most 4096 characters, without line breaks or "
                             "other control characters")
    return value


class JobFields(In):
    schedule: str | None = Field(None, max_length=200)
    timezone: str | None = Field(None, max_length=64)
    target_type: str | None = Field(None, max_length=32, description="http (default), queue, topic, ...")
    target_url: str | None = Field(None, max_length=2048)
    target_id: str | None = Field(None, max_length=256, description="queue or topic id or name")
    method: Method | None = None
    headers: dict[str, str] | None = None
    payload: str | None = Field(None, max_length=256 * 1024)
    timeout_seconds: int | None = Field(None, ge=1, le=300)
    retries: int | None = Field(None, ge=0, le=10)
    missed_runs: MissedRuns | None = None

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        if v is not None:
            schedule.parse(v)
            return v.strip()
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else schedule.check_timezone(v)

    _h = field_validator("headers")(_headers)


class JobCreate(JobFields):
    name: str = Field(max_length=100)
    schedule: str = Field(max_length=200)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError("name must be 1-100 characters: letters, digits, '.', '-' or '_'")
        return v


class JobUpdate(JobFields):
    """Only the fields sent change."""


class JobOut(BaseModel):
    id: str
    name: str
    schedule: str
    timezone: str
    target_type: str
    target_url: str | None
    target_id: str | None
    method: str
    headers: dict[str, str]
    payload: str | None
    timeout_seconds: int
    retries: int
    missed_runs: str
    status: str
    next_run_at: dt.datetime | None
    last_run_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class RunOut(BaseModel):
    id: str
    job_id: str
    trigger: str
    scheduled_at: dt.datetime
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_ms: int | None
    status: str
    attempts: int
    status_code: int | None
    error: str | None
    response_excerpt: str | None
