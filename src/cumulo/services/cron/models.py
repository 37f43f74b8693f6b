"""Cron jobs and their runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, IdMixin, TimestampMixin


class CronJob(IdMixin, TimestampMixin, Base):
    __tablename__ = "cron_jobs"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_cron_jobs_user_name"),
                      Index("ix_cron_jobs_due", "status", "next_run_at"))

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(100))
    schedule: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(2048))  # a URL, or the id of a queue/topic/...
    method: Mapped[str] = mapped_column(String(10))
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)
    timeout_seconds: Mapped[int] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer)
    missed_runs: Mapped[str] = mapped_column(String(16))  # run_once | skip
    status: Mapped[str] = mapped_column(String(16))  # ACTIVE | PAUSED
    next_run_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)  # bumped by every claim (compare-and-set)


class CronRun(IdMixin, Base):
    __tablename__ = "cron_runs"
    __table_args__ = (UniqueConstraint("job_id", "scheduled_at", name="uq_cron_runs_job_time"),
                      Index("ix_cron_runs_job_started", "job_id", "started_at"))

    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("cron_jobs.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | manual
    scheduled_at: Mapped[dt.datetime] = mapped_column()
    started_at: Mapped[dt.datetime] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    response_excerpt: Mapped[str | None] = mapped_column(Text, nullable=True)
