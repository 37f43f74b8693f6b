"""Notify request and response models: topics, subscriptions, publish, delivery log."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cumulo.services.notify import filters

NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MAX_MESSAGE = 256 * 1024
AttrValue = str | int | float | bool


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TopicCreate(In):
    name: str = Field(max_length=256)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError("name must be 1-256 characters: letters, digits, '-' or '_'")
        return v


class TopicOut(BaseModel):
    id: str
    name: str
    subscriptions: int
    created_at: dt.datetime


class DeliveryPolicy(In):
    max_attempts: int = Field(8, ge=1, le=50, description="attempts before dead-lettering")
    retry_base_seconds: float = Field(2.0, ge=0.1, le=3600, description="first back-off; doubles per attempt")
    timeout_seconds: float = Field(10.0, ge=0.5, le=60, description="per attempt")


class SubscriptionBase(In):
    protocol: str = Field(min_length=1, max_length=32)
    endpoint: str = Field(min_length=1, max_length=2048)
    filter_policy: dict[str, Any] | None = None
    raw_message_delivery: bool = False
    delivery_policy: DeliveryPolicy = Field(default_factory=DeliveryPolicy)
    dead_letter_queue: str | None = Field(None, max_length=80, description="id or name of one of your queues")

    @field_validator("filter_policy")
    @classmethod
    def _policy(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if v is None else filters.validate(v)


class SubscriptionCreate(SubscriptionBase):
    topic_id: str = Field(min_length=1, max_length=256, description="topic id or name")


class SubscriptionOut(BaseModel):
    id: str
    topic_id: str
    protocol: str
    endpoint: str
    filter_policy: dict[str, Any] | None
    raw_message_delivery: bool
    delivery_policy: DeliveryPolicy
    dead_letter_queue_id: str | None
    created_at: dt.datetime


class SubscriptionCreatedOut(SubscriptionOut):
    signing_secret: str = Field(description="HMAC-SHA256 key for X-Cumulo-Signature; shown only now")


class PublishIn(In):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)
    subject: str | None = Field(None, max_length=256)
    attributes: dict[str, AttrValue] | None = None

    @field_validator("attributes")
    @classmethod
    def _attrs(cls, v: dict[str, AttrValue] | None) -> dict[str, AttrValue] | None:
        if v is not None and len(v) > 10:
            raise ValueError("at most 10 attributes")
        for key, value in (v or {}).items():
            if not 1 <= len(key) <= 256 or (isinstance(value, str) and len(value) > 1024):
                raise ValueError("attribute names are 1-256 characters and values at most 1024")
        return v


class PublishOut(BaseModel):
    message_id: str
    deliveries: int


class AttemptOut(BaseModel):
    attempt: int
    status_code: int | None
    error: str | None
    latency_ms: int
    at: dt.datetime


class DeliveryOut(BaseModel):
    id: str
    message_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    log: list[AttemptOut]
