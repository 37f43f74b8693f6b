"""Deployments, their revisions (the spec of each rollout) and their replicas (one instance each)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.db.base import Base, IdMixin, TimestampMixin


class Deployment(IdMixin, TimestampMixin, Base):
    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_deployments_user_name"),)

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(40))
    replicas: Mapped[int] = mapped_column(Integer)  # desired
    revision: Mapped[int] = mapped_column(Integer)  # the revision the replicas converge to
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    vpc_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    load_balancer_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    update_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    deleting: Mapped[bool] = mapped_column(Boolean, default=False)
    keep_volumes: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # at deletion
    # the rollout's last progress (a change, a replica of the revision started or healthy, an old one retired)
    progress_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # the crash-loop backoff (here, not in a process's memory: it holds across restarts and workers):
    # replicas of the revision failed this many times in a row; no replica starts before backoff_until
    backoff_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    backoff_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class Revision(IdMixin, Base):
    """What one rollout asked for. ``status``: rolling (converging to it), complete, failed
    (rolled back or paused), superseded (a later revision completed)."""

    __tablename__ = "deployment_revisions"
    __table_args__ = (UniqueConstraint("deployment_id", "number", name="uq_deployment_revisions_deployment_id"),)

    deployment_id: Mapped[str] = mapped_column(String(36), ForeignKey("deployments.id", ondelete="CASCADE"),
                                               index=True)
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column()


class Replica(IdMixin, Base):
    """One running copy: an instance of the deployment's owner, labelled ``cumulo.deployment``.
    ``state``: starting (health not passed yet), healthy, draining (leaving its load balancer)."""

    __tablename__ = "deployment_replicas"

    deployment_id: Mapped[str] = mapped_column(String(36), ForeignKey("deployments.id", ondelete="CASCADE"),
                                               index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    revision: Mapped[int] = mapped_column(Integer)
    slot: Mapped[int] = mapped_column(Integer)
    instance_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(63))
    state: Mapped[str] = mapped_column(String(16))
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive failed checks
    restarts: Mapped[int] = mapped_column(Integer, default=0)  # replicas of this slot replaced so far
    in_lb: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column()
    checked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    healthy_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    drain_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class SlotVolume(IdMixin, Base):
    """A volume of one replica slot (``spec.volumes``): whichever replica holds the slot mounts it,
    across replacements and rollouts; kept while the slot is scaled away; removed with the
    deployment (or left to its owner with ``keep_volumes``)."""

    __tablename__ = "deployment_volumes"
    __table_args__ = (UniqueConstraint("deployment_id", "slot", "mount_path", name="uq_deployment_volumes_slot_path"),)

    deployment_id: Mapped[str] = mapped_column(String(36), ForeignKey("deployments.id", ondelete="CASCADE"),
                                               index=True)
    slot: Mapped[int] = mapped_column(Integer)
    mount_path: Mapped[str] = mapped_column(String(255))
    volume_id: Mapped[str] = mapped_column(String(36))
