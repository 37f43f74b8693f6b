"""Topics, subscriptions, published messages and their per-subscription deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.core.clock import utcnow
from cumulo.db.base import Base, IdMixin, TimestampMixin


class Topic(IdMixin, TimestampMixin, Base):
    __tablename__ = "notify_topics"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_notify_topics_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(256))


class Subscription(IdMixin, TimestampMixin, Base):
    __tablename__ = "notify_subscriptions"
    __table_args__ = (UniqueConstraint("topic_id", "protocol", "endpoint", name="uq_notify_subscriptions_target"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    topic_id: Mapped[str] = mapped_column(String(36), ForeignKey("notify_topics.id", ondelete="CASCADE"), index=True)
    protocol: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(2048))
    filter_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    raw_message_delivery: Mapped[bool] = mapped_column(default=False)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    max_attempts: Mapped[int] = mapped_column(Integer)
    retry_base_seconds: Mapped[float] = mapped_column(Float)
    timeout_seconds: Mapped[float] = mapped_column(Float)
    dead_letter_queue_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class Publication(IdMixin, Base):
    __tablename__ = "notify_messages"

    user_id: Mapped[str] = mapped_column(String(36))
    topic_id: Mapped[str] = mapped_column(String(36), ForeignKey("notify_topics.id", ondelete="CASCADE"), index=True)
    subject: Mapped[str | None] = mapped_column(String(256), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Delivery(IdMixin, Base):
    """One message to one subscription. ``next_attempt_at`` is also the lease: a worker that claims
    a delivery pushes it past the attempt's timeout, so a crashed worker's delivery comes due again."""

    __tablename__ = "notify_deliveries"
    __table_args__ = (Index("ix_notify_deliveries_due", "status", "next_attempt_at"),)

    subscription_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("notify_subscriptions.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str] = mapped_column(String(36), ForeignKey("notify_messages.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))  # pending, delivered, failed, dead_lettered
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class Attempt(IdMixin, Base):
    __tablename__ = "notify_attempts"

    delivery_id: Mapped[str] = mapped_column(String(36), ForeignKey("notify_deliveries.id", ondelete="CASCADE"),
                                             index=True)
    number: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
