"""Per-user data keys (wrapped by the master key), secrets and their encrypted versions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.core.clock import utcnow
from cumulo.db.base import Base, IdMixin, TimestampMixin


class DataKey(Base):
    """A user's 32-byte data key, sealed with the master key whose fingerprint is ``master_fp``."""

    __tablename__ = "secret_data_keys"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_fp: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    rewrapped_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class Secret(IdMixin, TimestampMixin, Base):
    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_secrets_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(500), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    last_accessed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    delete_after: Mapped[dt.datetime | None] = mapped_column(nullable=True, index=True)


class SecretVersion(Base):
    """One value of a secret: AES-256-GCM under the user's data key, bound to (secret id, version)."""

    __tablename__ = "secret_versions"
    __table_args__ = (UniqueConstraint("secret_id", "version", name="uq_secret_versions_secret_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    secret_id: Mapped[str] = mapped_column(String(36), ForeignKey("secrets.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
