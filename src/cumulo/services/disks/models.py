"""Disks: one image file each, under ``<data dir>/disks/<user id>/<disk id>.<format>``."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, IdMixin, TimestampMixin


class Disk(IdMixin, TimestampMixin, Base):
    __tablename__ = "disks"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_disks_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(8))  # qcow2 | raw | vmdk | vdi
    size_gb: Mapped[int] = mapped_column(Integer)  # virtual size, rounded up to whole GiB
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    # available | creating | resizing | converting | cloning | error
    status: Mapped[str] = mapped_column(String(16))
    operation: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the last one asked for
    progress_percent: Mapped[float] = mapped_column(Float, default=100.0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    warning: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the VM (instance id) it is attached to; the VM sees it from its next boot on (no hot-plug on microvm)
    instance_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
