"""Image request and response models."""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
MAX_FILES = 50
MAX_CONTEXT_BYTES = 5 * 1024 * 1024


class ImageBuild(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=63, description="lowercase letters, digits, '.', '_' or '-'")
    tag: str = Field("latest", max_length=128)
    dockerfile: str = Field(min_length=1, max_length=64 * 1024)
    files: dict[str, str] = Field(default_factory=dict, description="context files: relative path -> text")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value) or value.startswith("cumulo"):
            raise ValueError("name must be 1-63 lowercase letters, digits, '.', '_' or '-' and not start with "
                             "'cumulo' (the catalogue's prefix)")
        return value

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        if not TAG.match(value):
            raise ValueError("tag must be 1-128 letters, digits, '_', '.' or '-'")
        return value

    @field_validator("files")
    @classmethod
    def _files(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_FILES:
            raise ValueError(f"at most {MAX_FILES} context files")
        if sum(len(v.encode()) for v in value.values()) > MAX_CONTEXT_BYTES:
            raise ValueError(f"context files are at most {MAX_CONTEXT_BYTES // (1024 * 1024)} MB in total")
        for path in value:
            parts = path.split("/")
            if (not path or path.startswith("/") or "\\" in path or "\0" in path or len(path) > 255
                    or any(p in ("", ".", "..") for p in parts) or path == "Dockerfile"):
                raise ValueError(f"context file {path!r}: use a relative path without '..' (and not 'Dockerfile')")
        return value


class ImageOut(BaseModel):
    id: str
    name: str
    tag: str
    reference: str = Field(description="what to pass as `image` when launching an instance")
    status: str
    owner: str = Field(description="'cumulo' for the shared catalogue, 'you' for your own images")
    size_mb: float
    description: str | None = None
    error: str | None = None
    created_at: dt.datetime | None = None
