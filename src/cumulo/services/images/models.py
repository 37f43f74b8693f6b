"""Images users build themselves (the catalogue lives in Docker, labelled ``cumulo.catalog``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, IdMixin, TimestampMixin


class Image(IdMixin, TimestampMixin, Base):
    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("user_id", "name", "tag", name="uq_images_user_name_tag"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(63))
    tag: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # BUILDING | READY | FAILED
    docker_ref: Mapped[str] = mapped_column(String(255))
    docker_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    log: Mapped[str] = mapped_column(Text, default="")
