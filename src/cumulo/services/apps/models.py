"""Apps (git-push hosting): the app, its builds, its numbered releases and its custom domains."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.core.clock import utcnow
from cumulo.db.base import Base, IdMixin, TimestampMixin
from cumulo.services.databases.transitions import track_changes

CONTAINER_CPUS = 0.5  # each of an app's containers (``runtime``)


class App(IdMixin, TimestampMixin, Base):
    __tablename__ = "apps"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_apps_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(40))
    branch: Mapped[str] = mapped_column(String(100), default="main")
    git_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    git_secret: Mapped[str | None] = mapped_column(String(128), nullable=True)  # a secret's name, never its value
    app_type: Mapped[str | None] = mapped_column(String(16), nullable=True)  # as detected (or forced)
    type_override: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|building|running|stopped|failed
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    hostname: Mapped[str] = mapped_column(String(253))
    replicas: Mapped[int] = mapped_column(Integer, default=1)
    memory_mb: Mapped[int] = mapped_column(Integer, default=256)
    release_count: Mapped[int] = mapped_column(Integer, default=0)
    build_count: Mapped[int] = mapped_column(Integer, default=0)
    current_release_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    upstreams: Mapped[str] = mapped_column(String(1000), default="")  # "ip:port,..." the route serves now
    config_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # JSON env vars, sealed
    deploy_token: Mapped[str | None] = mapped_column(String(36), nullable=True)  # the per-app deploy lock
    deploy_started_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    deployed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # when status, replicas or memory_mb last changed, and the values that stamp is for (billing)
    state_changed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    state_changed_key: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Build(IdMixin, Base):
    __tablename__ = "app_builds"

    app_id: Mapped[str] = mapped_column(String(36), ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="building")  # building|succeeded|failed
    git_rev: Mapped[str | None] = mapped_column(String(64), nullable=True)
    app_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    log: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class Release(IdMixin, Base):
    __tablename__ = "app_releases"
    __table_args__ = (UniqueConstraint("app_id", "version", name="uq_app_releases_version"),)

    app_id: Mapped[str] = mapped_column(String(36), ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(Integer)
    build_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    image: Mapped[str] = mapped_column(String(255))  # engine tag of the build
    # SHA-256 of the tar of the app's files put into each container (``build.slug_path``); None: all in the image
    slug: Mapped[str | None] = mapped_column(String(64), nullable=True)
    git_rev: Mapped[str | None] = mapped_column(String(64), nullable=True)
    process: Mapped[str] = mapped_column(String(8), default="web")  # web | worker
    command: Mapped[str | None] = mapped_column(Text, nullable=True)
    release_command: Mapped[str | None] = mapped_column(Text, nullable=True)
    config_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # env vars of this release
    description: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|active|failed|retired
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AppDomain(Base):
    __tablename__ = "app_domains"

    hostname: Mapped[str] = mapped_column(String(253), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(36), ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def app_usage(read: Any) -> tuple[bool, dict[str, float]]:
    """Billed while running, as its containers: ``count`` of them, each ``CONTAINER_CPUS`` and ``memory_mb``."""
    replicas = int(read("replicas") or 1)
    return read("status") == "running", {"count": float(replicas), "cpus": CONTAINER_CPUS * replicas,
                                         "memory_mb": int(read("memory_mb") or 256) * replicas}


track_changes(App, "state_changed_at", "state_changed_key", "status", "replicas", "memory_mb", resource_type="app",
              action="state_changed", meter="app", usage=app_usage)
