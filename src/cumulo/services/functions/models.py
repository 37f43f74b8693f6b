"""Functions, their immutable versions, invocations and queue event sources."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.core.clock import utcnow
from cumulo.db.base import Base, IdMixin, TimestampMixin


class Function(IdMixin, TimestampMixin, Base):
    __tablename__ = "functions"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_functions_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="ACTIVE")


class FunctionVersion(Base):
    """A snapshot of code and configuration; updates create a new one, so calls in flight keep theirs."""

    __tablename__ = "function_versions"
    __table_args__ = (UniqueConstraint("function_id", "version", name="uq_function_versions_function_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    function_id: Mapped[str] = mapped_column(String(36), ForeignKey("functions.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    runtime: Mapped[str] = mapped_column(String(32))
    handler: Mapped[str] = mapped_column(String(128))
    timeout_seconds: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    max_concurrency: Mapped[int] = mapped_column(Integer)
    env: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    env_secrets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    vpc_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    dead_letter_queue_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    code_sha256: Mapped[str] = mapped_column(String(64))
    code_size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Invocation(IdMixin, Base):
    __tablename__ = "function_invocations"
    __table_args__ = (Index("ix_function_invocations_function_created", "function_id", "created_at"),
                      Index("ix_function_invocations_status_next", "status", "next_attempt_at"),
                      Index("ix_function_invocations_ended", "ended_at"))  # functions_0002: billing's window

    function_id: Mapped[str] = mapped_column(String(36), ForeignKey("functions.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer)
    is_async: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(20), default="api")
    status: Mapped[str] = mapped_column(String(20))
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    logs: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[float | None] = mapped_column(nullable=True)
    cold_start: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class EventSource(IdMixin, Base):
    """A queue feeding a function in batches."""

    __tablename__ = "function_event_sources"
    __table_args__ = (UniqueConstraint("function_id", "queue_id", name="uq_function_event_sources_fn_queue"),)

    function_id: Mapped[str] = mapped_column(String(36), ForeignKey("functions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    queue_id: Mapped[str] = mapped_column(String(36))
    batch_size: Mapped[int] = mapped_column(Integer, default=10)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
