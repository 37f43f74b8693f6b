"""Block volumes, their attachments to instances, and snapshots."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.core.clock import utcnow
from cumulo.db.base import Base, IdMixin, TimestampMixin


class Volume(IdMixin, TimestampMixin, Base):
    __tablename__ = "volumes"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_volumes_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(64))
    size_gb: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # available | error (in-use comes from the attachment)
    backend: Mapped[str] = mapped_column(String(10))  # loop (size enforced) | plain
    docker_volume: Mapped[str] = mapped_column(String(80))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class VolumeAttachment(Base):
    __tablename__ = "volume_attachments"
    __table_args__ = (UniqueConstraint("instance_id", "mount_path", name="uq_volume_attachments_path"),)

    volume_id: Mapped[str] = mapped_column(String(36), ForeignKey("volumes.id", ondelete="CASCADE"),
                                           primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    mount_path: Mapped[str] = mapped_column(String(255))
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Snapshot(IdMixin, TimestampMixin, Base):
    __tablename__ = "volume_snapshots"

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)  # kept after the volume is deleted
    volume_name: Mapped[str] = mapped_column(String(64))
    size_gb: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(20))  # available | error
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
