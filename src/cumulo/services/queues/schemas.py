"""Queue request and response models (SQS semantics on Cumulo's REST API)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
MAX_BATCH = 10
MAX_ATTRIBUTES = 10
ABS_MAX_MESSAGE = 1024 * 1024
AttrValue = str | int | float | bool


def check_name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("name must be 1-80 characters: letters, digits, '-' or '_'")
    return value


def check_attributes(value: dict[str, AttrValue] | None) -> dict[str, AttrValue] | None:
    if value is None:
        return value
    if len(value) > MAX_ATTRIBUTES:
        raise ValueError(f"at most {MAX_ATTRIBUTES} attributes")
    for key, item in value.items():
        if not 1 <= len(key) <= 256:
            raise ValueError("attribute names are 1-256 characters")
        if isinstance(item, str) and len(item) > 1024:
            raise ValueError(f"attribute {key!r} is longer than 1024 characters")
    return value


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeadLetterIn(In):
    queue_id: str = Field(min_length=1, max_length=80, description="id or name of one of your queues")
    max_receive_count: int = Field(ge=1, le=1000)


class QueueAttrs(In):
    visibility_timeout: int | None = Field(None, ge=0, le=43200)
    retention_seconds: int | None = Field(None, ge=60, le=1209600)
    max_message_size: int | None = Field(None, ge=1024, le=ABS_MAX_MESSAGE)
    delay_seconds: int | None = Field(None, ge=0, le=900)
    receive_wait_seconds: int | None = Field(None, ge=0, le=20)
    dead_letter: DeadLetterIn | None = None


class QueueCreate(QueueAttrs):
    name: str = Field(max_length=80)

    _name = field_validator("name")(check_name)


class QueueUpdate(QueueAttrs):
    """Only the fields sent change; ``dead_letter: null`` removes the redrive policy."""


class DeadLetterOut(BaseModel):
    queue_id: str
    max_receive_count: int


class QueueOut(BaseModel):
    id: str
    name: str
    visibility_timeout: int
    retention_seconds: int
    max_message_size: int
    delay_seconds: int
    receive_wait_seconds: int
    dead_letter: DeadLetterOut | None
    created_at: dt.datetime
    updated_at: dt.datetime


class MessageIn(In):
    body: str = Field(min_length=1, max_length=ABS_MAX_MESSAGE)
    delay_seconds: int | None = Field(None, ge=0, le=900)
    attributes: dict[str, AttrValue] | None = None

    _attrs = field_validator("attributes")(check_attributes)


class BatchIn(In):
    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_BATCH)


class SentOut(BaseModel):
    message_id: str
    md5_of_body: str
    sent_at: dt.datetime


class BatchSentOut(BaseModel):
    messages: list[SentOut]


class ReceivedOut(BaseModel):
    message_id: str
    body: str
    attributes: dict[str, Any]
    receipt_handle: str
    received_count: int
    first_received_at: dt.datetime
    sent_at: dt.datetime


class VisibilityIn(In):
    visibility_timeout: int = Field(ge=0, le=43200)


class DeleteBatchIn(In):
    receipt_handles: list[str] = Field(min_length=1, max_length=MAX_BATCH)


class BatchFailure(BaseModel):
    receipt_handle: str
    code: str
    message: str


class DeleteBatchOut(BaseModel):
    deleted: list[str]
    failed: list[BatchFailure]


class RedriveIn(In):
    destination: str | None = Field(None, max_length=80, description="queue id or name; default: each "
                                    "message goes back to the queue it came from")
    max_messages: int | None = Field(None, ge=1, le=1_000_000)


class CountOut(BaseModel):
    count: int


class StatsOut(BaseModel):
    queue_id: str
    visible: int
    in_flight: int
    delayed: int
    total: int
    oldest_age_seconds: float | None
