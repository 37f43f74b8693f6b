"""Instances: desired state (what the user asked for) and observed state (what Docker reports)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, IdMixin, TimestampMixin


class Instance(IdMixin, TimestampMixin, Base):
    __tablename__ = "instances"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_instances_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(63))
    image: Mapped[str] = mapped_column(String(255))  # as the user named it
    image_ref: Mapped[str] = mapped_column(String(255))  # the engine's reference
    # desired state: "running" or "stopped"; status is what the reconciler last saw or did
    desired: Mapped[str] = mapped_column(String(16), default="running")
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    ports: Mapped[str] = mapped_column(String(200), default="")  # as requested, "0:80,8080:8080"
    ports_bound: Mapped[str] = mapped_column(String(200), default="")  # as bound now, "49153:80,8080:8080"
    env: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    command: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    cpus: Mapped[float] = mapped_column(Float)
    memory_mb: Mapped[int] = mapped_column(Integer)
    password_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    vpc_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    subnet_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    network_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ipv4_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    container_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(nullable=True, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    launched_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class HostPort(Base):
    """A host port published by an instance (one row per port: two instances never get the same one)."""

    __tablename__ = "instance_host_ports"

    port: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
