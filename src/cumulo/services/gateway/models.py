"""Gateway routes, hostname claims (shared with load balancers and later apps) and route keys."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.core.clock import utcnow
from cumulo.db.base import Base, IdMixin, TimestampMixin


class GatewayRoute(IdMixin, TimestampMixin, Base):
    __tablename__ = "gateway_routes"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_gateway_routes_user_name"),
                      UniqueConstraint("hostname", "prefix", "methods", name="uq_gateway_routes_host_prefix"))

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(40))
    hostname: Mapped[str] = mapped_column(String(253), index=True)
    hostname_generated: Mapped[bool] = mapped_column(Boolean, default=True)
    prefix: Mapped[str] = mapped_column(String(200))
    methods: Mapped[str] = mapped_column(String(80), default="")  # "GET,POST" sorted, "" for any
    target: Mapped[str] = mapped_column(String(2048))
    strip_prefix: Mapped[bool] = mapped_column(Boolean, default=False)
    timeout_seconds: Mapped[float] = mapped_column(Float, default=60.0)
    preserve_host: Mapped[bool] = mapped_column(Boolean, default=False)
    require_api_key: Mapped[bool] = mapped_column(Boolean, default=False)
    rate_limit: Mapped[float | None] = mapped_column(Float, nullable=True)


class HostnameClaim(Base):
    """``hostname`` is used by the resource (``kind``, ``resource_id``) of ``user_id``. A hostname
    may be used by several resources of one user, never by two users."""

    __tablename__ = "gateway_hostnames"

    hostname: Mapped[str] = mapped_column(String(253), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RouteKey(IdMixin, Base):
    """A key the route's owner issued for one route (callers of ``require_api_key`` routes)."""

    __tablename__ = "gateway_route_keys"

    route_id: Mapped[str] = mapped_column(String(36), ForeignKey("gateway_routes.id", ondelete="CASCADE"),
                                          index=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
