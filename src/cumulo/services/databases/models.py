"""Managed databases and their backups."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, IdMixin, TimestampMixin
from cumulo.services.databases.transitions import Usage, state_key, track_changes

__all__ = ["STATE", "DatabaseBackup", "ManagedDatabase", "server_usage", "state_key", "track_changes"]


class ManagedDatabase(IdMixin, TimestampMixin, Base):
    __tablename__ = "databases"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_databases_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(16))  # postgres | mysql (MariaDB)
    version: Mapped[str] = mapped_column(String(16))
    cpus: Mapped[float] = mapped_column(Float)
    memory_mb: Mapped[int] = mapped_column(Integer)
    storage_gb: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # creating | available | stopped | error | deleting
    desired: Mapped[str] = mapped_column(String(10), default="running")  # running | stopped
    database_name: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(64))
    secret_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    secret_name: Mapped[str] = mapped_column(String(128))
    vpc_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    network_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    host_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    backup_retention_days: Mapped[int] = mapped_column(Integer, default=7)
    backup_window: Mapped[str] = mapped_column(String(11), default="03:00-04:00")
    last_backup_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    disk_backend: Mapped[str] = mapped_column(String(10), default="plain")
    restored_from: Mapped[str | None] = mapped_column(String(36), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # when status, cpus or memory_mb last changed; when storage_gb did (None on rows made before them)
    state_changed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    state_changed_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    storage_changed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    storage_changed_key: Mapped[str | None] = mapped_column(String(64), nullable=True)


class DatabaseBackup(IdMixin, TimestampMixin, Base):
    """A logical dump in the user's backup bucket; kept after its database is deleted (until retention)."""

    __tablename__ = "database_backups"

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    database_id: Mapped[str] = mapped_column(String(36), index=True)
    database_name: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(12))  # manual | automated | final
    status: Mapped[str] = mapped_column(String(12))  # creating | available | error
    bucket: Mapped[str] = mapped_column(String(63))
    key: Mapped[str] = mapped_column(String(255))
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # what a restore recreates (sizes, users)
    expires_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)  # None: kept until deleted
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


STATE = ("status", "cpus", "memory_mb")


def server_usage(read: Any) -> tuple[bool, dict[str, float]]:
    """A database's or cache's server: billed while available, by its cpus and memory."""
    return read("status") == "available", {"cpus": float(read("cpus") or 0), "memory_mb": int(read("memory_mb") or 0)}


def _storage_usage(read: Any) -> tuple[bool, dict[str, float]]:
    return True, {"size_gb": int(read("storage_gb") or 0)}  # billed while the database exists, stopped too


_server: Usage = server_usage
track_changes(ManagedDatabase, "state_changed_at", "state_changed_key", *STATE, resource_type="database",
              action="state_changed", meter="database", usage=_server)
track_changes(ManagedDatabase, "storage_changed_at", "storage_changed_key", "storage_gb", resource_type="database",
              action="storage_changed", meter="database_storage", usage=_storage_usage)
