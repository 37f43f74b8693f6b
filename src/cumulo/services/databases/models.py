"""Managed databases and their backups."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.core.clock import utcnow
from cumulo.db.base import Base, IdMixin, TimestampMixin


def state_key(values: Any) -> str:
    """What a stamp was taken for: the tracked values, as the meter compares them with the row's."""
    return "|".join("" if v is None else str(float(v) if isinstance(v, int | float) else v) for v in values)


def track_changes(model: Any, stamp: str, key: str, *attributes: str) -> None:
    """Set ``model.<stamp>`` to now whenever one of ``attributes`` is set to a different value (on the
    object, before its commit): the exact moment of a transition, which ``updated_at`` is not (any
    later write to the row moves it). ``<key>`` keeps the values the stamp is for, so a reader can
    tell a row changed behind the ORM (a bulk UPDATE) and fall back to ``updated_at`` (``hooks``)."""
    def changed(target: Any, value: Any, old: Any, _initiator: Any, name: str) -> Any:
        if value != old:
            current = {a: target.__dict__.get(a) for a in attributes}  # never a load: no I/O in here
            current[name] = value
            setattr(target, stamp, utcnow())
            setattr(target, key, state_key(current[a] for a in attributes))
        return value

    def inserted(_mapper: Any, _connection: Any, target: Any) -> None:
        setattr(target, stamp, utcnow())  # a new row's moment is its insert (as created_at), not its making

    for attribute in attributes:
        event.listen(getattr(model, attribute), "set",
                     lambda t, v, o, i, _name=attribute: changed(t, v, o, i, _name), retval=True)
    event.listen(model, "before_insert", inserted)


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
track_changes(ManagedDatabase, "state_changed_at", "state_changed_key", *STATE)
track_changes(ManagedDatabase, "storage_changed_at", "storage_changed_key", "storage_gb")
