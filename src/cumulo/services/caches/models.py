"""Managed caches (Redis)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, IdMixin, TimestampMixin
from cumulo.services.databases.models import STATE, server_usage, track_changes


class Cache(IdMixin, TimestampMixin, Base):
    __tablename__ = "caches"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_caches_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(16))
    memory_mb: Mapped[int] = mapped_column(Integer)
    cpus: Mapped[float] = mapped_column(Float, default=0.5)
    eviction_policy: Mapped[str] = mapped_column(String(20))
    persistence: Mapped[str] = mapped_column(String(8))  # none | rdb | aof
    storage_gb: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # creating | available | stopped | error
    username: Mapped[str] = mapped_column(String(64))
    secret_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    secret_name: Mapped[str] = mapped_column(String(128))
    admin_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # Cumulo's ACL user (``acl``)
    vpc_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    network_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    host_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    disk_backend: Mapped[str] = mapped_column(String(10), default="plain")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    state_changed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # status, cpus, memory_mb
    state_changed_key: Mapped[str | None] = mapped_column(String(64), nullable=True)


track_changes(Cache, "state_changed_at", "state_changed_key", *STATE, resource_type="cache", action="state_changed",
              meter="cache", usage=server_usage)
