"""Load balancers and their targets (the instances they send traffic to, with their health)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, IdMixin, TimestampMixin


class LoadBalancer(IdMixin, TimestampMixin, Base):
    __tablename__ = "load_balancers"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_load_balancers_user_name"),
                      UniqueConstraint("port", name="uq_load_balancers_port"))

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(63))
    hostname: Mapped[str | None] = mapped_column(String(253), nullable=True)  # None: served on ``port`` only
    custom_hostname: Mapped[bool] = mapped_column(default=False)  # False: generated from name and user
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a dedicated listener
    algorithm: Mapped[str] = mapped_column(String(16))
    hc_path: Mapped[str] = mapped_column(String(1024))
    hc_port: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the target's own port
    hc_interval: Mapped[float] = mapped_column(Float)
    hc_timeout: Mapped[float] = mapped_column(Float)
    hc_healthy: Mapped[int] = mapped_column(Integer)
    hc_unhealthy: Mapped[int] = mapped_column(Integer)
    hc_matcher: Mapped[str] = mapped_column(String(64))
    sticky_cookie: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deregistration_delay: Mapped[int] = mapped_column(Integer)


class Target(IdMixin, TimestampMixin, Base):
    """One instance port behind a load balancer. ``health`` is owned by the prober (reconciler):
    initial, healthy, unhealthy, unused (the instance is not running) or draining (deregistered,
    in-flight requests finishing until ``drain_until``)."""

    __tablename__ = "lb_targets"
    __table_args__ = (UniqueConstraint("lb_id", "instance_id", "port", name="uq_lb_targets_lb_instance_port"),)

    lb_id: Mapped[str] = mapped_column(String(36), ForeignKey("load_balancers.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    port: Mapped[int] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    address: Mapped[str | None] = mapped_column(String(45), nullable=True)  # the instance's VPC address
    health: Mapped[str] = mapped_column(String(16), default="initial")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason_code: Mapped[str | None] = mapped_column(String(48), nullable=True)
    last_failure: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    health_since: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    drain_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)
