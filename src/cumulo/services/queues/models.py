"""Queues and their messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.core.clock import utcnow
from cumulo.core.ids import new_id
from cumulo.db.base import Base, IdMixin, TimestampMixin


class Queue(IdMixin, TimestampMixin, Base):
    __tablename__ = "queues"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_queues_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(80))
    visibility_timeout: Mapped[int] = mapped_column(Integer)
    retention_seconds: Mapped[int] = mapped_column(Integer)
    max_message_size: Mapped[int] = mapped_column(Integer)
    delay_seconds: Mapped[int] = mapped_column(Integer)
    receive_wait_seconds: Mapped[int] = mapped_column(Integer)
    dead_letter_queue_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    max_receive_count: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Message(Base):
    """One message. ``receipt`` is the nonce of its latest receive: a receipt handle is
    ``<message id>.<receipt>``, so an older handle stops matching once the message is received again."""

    __tablename__ = "queue_messages"
    __table_args__ = (Index("ix_queue_messages_queue_visible", "queue_id", "visible_at"),
                      Index("ix_queue_messages_expires_at", "expires_at"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    queue_id: Mapped[str] = mapped_column(String(36), ForeignKey("queues.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    visible_at: Mapped[dt.datetime] = mapped_column()
    expires_at: Mapped[dt.datetime] = mapped_column()
    receipt: Mapped[str | None] = mapped_column(String(40), nullable=True)
    received_count: Mapped[int] = mapped_column(Integer, default=0)
    first_received_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    source_queue_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
