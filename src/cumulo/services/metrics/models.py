"""Samples of CPU and memory, recorded by the sampler: ``instance_id`` is the sampled resource (an
instance, a database or a cache: ids are unique across kinds), ``group_id`` the deployment of a
replica."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base


class InstanceMetric(Base):
    __tablename__ = "instance_metrics"
    __table_args__ = (Index("ix_instance_metrics_instance_at", "instance_id", "at"),
                      Index("ix_instance_metrics_at", "at"),
                      Index("ix_instance_metrics_group_at", "group_id", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(36))
    user_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[dt.datetime] = mapped_column()
    cpu_percent: Mapped[float] = mapped_column(Float)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    memory_limit_bytes: Mapped[int] = mapped_column(BigInteger)
    pids: Mapped[int] = mapped_column(Integer)
    group_id: Mapped[str | None] = mapped_column(String(36), nullable=True, default=None)
