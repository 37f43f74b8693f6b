"""Request and response models of /functions."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, Field, field_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MAX_ENV_BYTES = 4096


def _check_env(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    from cumulo.services.secrets.service import ENV_NAME

    for key, item in value.items():
        if not ENV_NAME.match(key):
            raise ValueError(f"{key!r} is not a valid environment variable name")
        if key.upper().startswith("CUMULO_"):
            raise ValueError(f"{key!r}: names starting with CUMULO_ are reserved")
        if not isinstance(item, str):
            raise ValueError(f"{key!r}: values must be strings")
    if len(json.dumps(value)) > MAX_ENV_BYTES:
        raise ValueError(f"env must be at most {MAX_ENV_BYTES} bytes")
    return value


class FunctionConfig(BaseModel):
    """Settings shared by create and update (all optional on update)."""

    handler: str | None = Field(None, min_length=1, max_length=128)
    timeout_seconds: int | None = Field(None, ge=1, le=900)
    memory_mb: int | None = Field(None, ge=64, le=4096)
    max_concurrency: int | None = Field(None, ge=1, le=100)
    env: dict[str, str] | None = None
    env_secrets: dict[str, str] | None = None
    vpc_id: str | None = Field(None, max_length=36)
    dead_letter_queue: str | None = Field(None, max_length=80, description="queue id or name for failed async calls")

    _env = field_validator("env")(classmethod(lambda cls, v: _check_env(v)))

    @field_validator("env_secrets")
    @classmethod
    def _secrets(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            from cumulo.services.secrets.service import check_env_mapping

            try:
                check_env_mapping(value)
            except Exception as exc:  # noqa: BLE001 - InvalidInput -> a validation error
                raise ValueError(str(exc)) from None
            _check_env({k: "" for k in value})
        return value


class FunctionCreate(FunctionConfig):
    name: str = Field(pattern=NAME_PATTERN)
    runtime: str = Field(min_length=1, max_length=32)
    code_zip: str | None = Field(None, min_length=1, description="the zip, base64 (or the multipart file 'code')")


class FunctionUpdate(FunctionConfig):
    runtime: str | None = Field(None, min_length=1, max_length=32)
    code_zip: str | None = Field(None, min_length=1)


class FunctionOut(BaseModel):
    id: str
    name: str
    status: str
    version: int
    runtime: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    max_concurrency: int
    env: dict[str, str]
    env_secrets: dict[str, str]
    vpc_id: str | None
    dead_letter_queue_id: str | None
    code_sha256: str
    code_size: int
    warm_containers: int = 0
    created_at: dt.datetime
    updated_at: dt.datetime


class RuntimeOut(BaseModel):
    name: str
    language: str
    version: str
    image: str


class InvokeIn(BaseModel):
    payload: Any = None
    async_: bool = Field(False, alias="async")


class InvocationOut(BaseModel):
    id: str
    function_id: str
    version: int
    status: str = Field(description="PENDING, RUNNING, SUCCESS or FAILED")
    is_async: bool
    source: str
    result: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float | None = None
    cold_start: bool = False
    attempts: int = 0
    logs_tail: str = ""
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None


class LogEntry(BaseModel):
    invocation_id: str
    version: int
    status: str
    source: str
    duration_ms: float | None
    logs: str
    error: dict[str, Any] | None = None
    created_at: dt.datetime
    ended_at: dt.datetime | None = None


class EventSourceIn(BaseModel):
    queue_id: str = Field(min_length=1, max_length=80, description="queue id or name")
    batch_size: int = Field(10, ge=1, le=10)


class EventSourceOut(BaseModel):
    id: str
    function_id: str
    queue_id: str
    batch_size: int
    enabled: bool
    created_at: dt.datetime
