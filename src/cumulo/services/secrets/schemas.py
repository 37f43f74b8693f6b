"""Request and response models of /secrets (values appear only in ``SecretValueOut``)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9/_+=.@-]{0,127}$"
MAX_VALUE = 65536


class SecretCreate(BaseModel):
    name: str = Field(pattern=NAME_PATTERN, description="letters, digits and /_+=.@- (1-128 characters)")
    value: str = Field(min_length=1, max_length=MAX_VALUE)
    description: str = Field("", max_length=500)


class SecretUpdate(BaseModel):
    value: str = Field(min_length=1, max_length=MAX_VALUE)
    description: str | None = Field(None, max_length=500)


class SecretOut(BaseModel):
    id: str
    name: str
    description: str
    version: int
    status: str = Field(description="ACTIVE or SCHEDULED_FOR_DELETION")
    deletion_date: dt.datetime | None = None
    last_accessed_at: dt.datetime | None = None
    created_at: dt.datetime
    updated_at: dt.datetime


class SecretValueOut(SecretOut):
    value: str
    value_version: int = Field(description="the version whose value is returned")
