"""Key pairs: only the public half is kept."""

from __future__ import annotations

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, IdMixin, TimestampMixin


class KeyPair(IdMixin, TimestampMixin, Base):
    __tablename__ = "keypairs"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_keypairs_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(Text)  # OpenSSH one-line form
    fingerprint: Mapped[str] = mapped_column(String(80))  # SHA256:<base64>, as ssh-keygen -l shows it
