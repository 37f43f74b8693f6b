"""Auto-scaling groups, their members (instances) and their scaling activities."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, IdMixin, TimestampMixin


class Group(IdMixin, TimestampMixin, Base):
    __tablename__ = "autoscaling_groups"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_autoscaling_groups_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(40))
    launch_template: Mapped[dict[str, Any]] = mapped_column(JSON)
    min_size: Mapped[int] = mapped_column(Integer)
    max_size: Mapped[int] = mapped_column(Integer)
    desired_capacity: Mapped[int] = mapped_column(Integer)
    load_balancer_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    target_port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    policies: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    cooldown_seconds: Mapped[int] = mapped_column(Integer)
    warmup_seconds: Mapped[int] = mapped_column(Integer)
    scale_in_stabilization_seconds: Mapped[int] = mapped_column(Integer)
    scale_in_protection: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    deleting: Mapped[bool] = mapped_column(Boolean, default=False)
    # evaluation state: recent recommendations [[unix time, capacity]], last scaling, LB counter
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Member(IdMixin, Base):
    __tablename__ = "autoscaling_members"

    group_id: Mapped[str] = mapped_column(String(36), ForeignKey("autoscaling_groups.id", ondelete="CASCADE"),
                                          index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    instance_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(63))
    state: Mapped[str] = mapped_column(String(16))  # in_service | draining
    in_lb: Mapped[bool] = mapped_column(Boolean, default=False)
    launched_at: Mapped[dt.datetime] = mapped_column()
    drain_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class Activity(IdMixin, Base):
    __tablename__ = "autoscaling_activities"

    group_id: Mapped[str] = mapped_column(String(36), ForeignKey("autoscaling_groups.id", ondelete="CASCADE"),
                                          index=True)
    status: Mapped[str] = mapped_column(String(16))  # Successful | Failed
    cause: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    from_capacity: Mapped[int] = mapped_column(Integer)
    to_capacity: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(index=True)
