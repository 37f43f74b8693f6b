"""Deployment request and response models (the public contract of ``/deployments``).

Health-check fields and defaults follow Docker's HEALTHCHECK (interval, timeout, retries,
start period), with shorter defaults; the update strategy follows Swarm's ``update_config``
(order, failure_action) with Kubernetes' ``max_surge``/``max_unavailable`` counts.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cumulo.services.compute.schemas import ENV_KEY
from cumulo.services.volumes.schemas import MAX_SIZE_GB, check_mount_path

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
PATH = re.compile(r"^/[\x21-\x7e]{0,1023}$")
MAX_REPLICAS = 50
Status = Literal["SCALING", "RUNNING", "UPDATING", "ROLLING_BACK", "PAUSED", "DEGRADED", "STOPPED", "DELETING"]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("name must be 1-40 characters: lowercase letters, digits and '-', starting and ending "
                         "with a letter or digit")
    return value


class HealthCheck(In):
    """One of ``http_path`` (GET on the replica's address, 200-399 passes) or ``command`` (run
    inside the replica with ``/bin/sh -c``, exit 0 passes). A replica is healthy at its first pass;
    after ``start_period_seconds``, ``retries`` consecutive failures make it unhealthy (replaced)."""

    http_path: str | None = Field(None, max_length=1024)
    command: str | None = Field(None, min_length=1, max_length=4096)
    port: int | None = Field(None, ge=1, le=65535, description="HTTP port; default: the first of ports")
    interval_seconds: float = Field(5, ge=0.5, le=300)
    timeout_seconds: float = Field(2, gt=0, le=120)
    retries: int = Field(3, ge=1, le=10)
    start_period_seconds: float = Field(0, ge=0, le=3600)

    @field_validator("http_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not PATH.match(value):
            raise ValueError("http_path must start with '/' and hold no spaces or control characters")
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: str | None) -> str | None:
        if value is not None and "\0" in value:
            raise ValueError("command must not contain NUL")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> HealthCheck:
        if (self.http_path is None) == (self.command is None):
            raise ValueError("health_check: give exactly one of http_path or command")
        if self.timeout_seconds > self.interval_seconds:
            raise ValueError("health_check: timeout_seconds must not exceed interval_seconds")
        return self


class ReplicaVolume(In):
    """A volume every replica gets its own of (Kubernetes' volumeClaimTemplates): made for a slot at
    its first replica, mounted by each later replica of that slot, kept when the slot is scaled
    away (for a later scale-up), removed with the deployment unless it is deleted with
    ``keep_volumes``."""

    mount_path: str = Field(max_length=255)
    size_gb: int = Field(1, ge=1, le=MAX_SIZE_GB, description="the size of volumes made from now on")

    _path = field_validator("mount_path")(check_mount_path)


MAX_VOLUMES = 5
NEEDS_STOP_FIRST = ("volumes: per-replica volumes need update.order stop-first (with max_unavailable of at least "
                    "1): a slot's volume is mounted by one replica at a time")


class UpdateConfig(In):
    max_surge: int = Field(1, ge=0, le=MAX_REPLICAS, description="replicas above `replicas` during a rollout")
    max_unavailable: int = Field(0, ge=0, le=MAX_REPLICAS, description="ready replicas below `replicas` allowed")
    order: Literal["start-first", "stop-first"] = "start-first"
    failure_action: Literal["rollback", "pause"] = "rollback"
    progress_deadline_seconds: int = Field(
        600, ge=1, le=86400, description="a rollout that makes no progress this long fails (failure_action); "
        "progress: a replica of the new revision started or healthy, an old one retired (Kubernetes' default 600)")

    @model_validator(mode="after")
    def _progress(self) -> UpdateConfig:
        if self.order == "start-first" and self.max_surge == 0 and self.max_unavailable == 0:
            raise ValueError("update: max_surge and max_unavailable cannot both be 0")
        if self.order == "stop-first" and self.max_unavailable == 0:
            raise ValueError("update: order stop-first needs max_unavailable of at least 1")
        return self


def stop_first(update: dict[str, Any], named: set[str]) -> dict[str, Any]:
    """The update strategy of a deployment with per-replica volumes: stop-first (a slot's volume is
    mounted by one replica at a time), forced when no order was asked for (``named``: the fields the
    caller gave); an explicit start-first is refused (ValueError)."""
    if update.get("order") == "stop-first":
        return update
    if "order" in named or ("max_unavailable" in named and int(update.get("max_unavailable") or 0) < 1):
        raise ValueError(NEEDS_STOP_FIRST)
    return {**update, "order": "stop-first", "max_surge": update.get("max_surge", 0) if "max_surge" in named else 0,
            "max_unavailable": max(int(update.get("max_unavailable") or 0), 1)}


class Spec(In):
    """What every replica runs (one revision)."""

    image: str = Field(min_length=1, max_length=255)
    command: list[str] | None = Field(None, max_length=100)
    env: dict[str, str] = Field(default_factory=dict, max_length=100)
    env_secrets: dict[str, str] = Field(default_factory=dict, max_length=100)
    ports: list[int] = Field(default_factory=list, max_length=10, description="container ports the replicas serve")
    cpus: float | None = Field(None, gt=0, le=64)
    memory_mb: int | None = Field(None, ge=16, le=262144)
    health_check: HealthCheck | None = None
    volumes: list[ReplicaVolume] = Field(default_factory=list, max_length=MAX_VOLUMES)

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        if any(not 1 <= p <= 65535 for p in value) or len(set(value)) != len(value):
            raise ValueError("ports: distinct container ports 1-65535")
        return value

    @model_validator(mode="after")
    def _checked(self) -> Spec:
        for key, item in {**self.env, **self.env_secrets}.items():  # the rules of an instance launch
            if not ENV_KEY.match(key) or key.startswith("CUMULO_"):
                raise ValueError(f"env name {key!r} must be letters, digits and '_' (not starting with a digit, "
                                 "not CUMULO_)")
            if len(item) > 8192 or "\0" in item:
                raise ValueError(f"env {key!r}: value too long or contains NUL")
        if set(self.env) & set(self.env_secrets):
            raise ValueError("env_secrets: a variable is also set in env")
        if self.command is not None and (not self.command or any(len(a) > 4096 or "\0" in a for a in self.command)):
            raise ValueError("command, when given, is a non-empty list of strings (at most 4096 characters, no NUL)")
        if len({v.mount_path for v in self.volumes}) != len(self.volumes):
            raise ValueError("volumes: two volumes have the same mount_path")
        if self.health_check and self.health_check.http_path and not (self.health_check.port or self.ports):
            raise ValueError("health_check: an HTTP check needs a port (health_check.port or ports)")
        return self


SPEC_FIELDS = tuple(Spec.model_fields)


class DeploymentCreate(Spec):
    name: str = Field(max_length=40)
    replicas: int = Field(1, ge=0, le=MAX_REPLICAS)
    vpc_id: str | None = Field(None, max_length=80)
    update: UpdateConfig = Field(default_factory=UpdateConfig)
    load_balancer_id: str | None = Field(None, max_length=80)

    _name = field_validator("name")(check_name)

    @model_validator(mode="after")
    def _lb_port(self) -> DeploymentCreate:
        if self.load_balancer_id and not self.ports and not (self.health_check and self.health_check.port):
            raise ValueError("load_balancer_id: the replicas need a port (ports) to receive traffic on")
        if self.volumes and self.update.order != "stop-first":
            forced = stop_first(self.update.model_dump(), self.update.model_fields_set)
            self.update = UpdateConfig.model_validate(forced)
        return self


class DeploymentUpdate(In):
    """Any spec field starts a rollout (a new revision); ``replicas`` alone scales."""

    replicas: int | None = Field(None, ge=0, le=MAX_REPLICAS)
    image: str | None = Field(None, min_length=1, max_length=255)
    command: list[str] | None = Field(None, max_length=100)
    env: dict[str, str] | None = Field(None, max_length=100)
    env_secrets: dict[str, str] | None = Field(None, max_length=100)
    ports: list[int] | None = Field(None, max_length=10)
    cpus: float | None = Field(None, gt=0, le=64)
    memory_mb: int | None = Field(None, ge=16, le=262144)
    health_check: HealthCheck | None = None
    volumes: list[ReplicaVolume] | None = Field(None, max_length=MAX_VOLUMES)
    update: UpdateConfig | None = None


class ReplicaOut(BaseModel):
    id: str
    name: str
    instance_id: str
    revision: int
    state: str = Field(description="starting, healthy, unhealthy or draining")
    health: str = Field(description="what the last health check said")
    address: str | None
    restarts: int = Field(description="how many times this slot's replica was replaced")
    slot: int = Field(description="the replica's place: its volumes go with it")
    volumes: list[dict[str, str]] = Field(default_factory=list, description="[{mount_path, volume_id}] of its slot")
    in_load_balancer: bool
    last_error: str | None
    started_at: dt.datetime
    healthy_at: dt.datetime | None


class RevisionOut(BaseModel):
    number: int
    status: str
    reason: str | None
    spec: dict[str, Any]
    created_at: dt.datetime


class CrashLoopOut(BaseModel):
    failures: int = Field(description="replicas of the revision that failed in a row")
    next_start_at: dt.datetime | None = Field(description="no replacement starts before this time")


class DeploymentOut(BaseModel):
    id: str
    name: str
    replicas: int
    ready_replicas: int
    status: Status
    status_reason: str | None
    revision: int
    spec: dict[str, Any]
    update: dict[str, Any]
    vpc_id: str | None
    load_balancer_id: str | None
    paused: bool
    members: list[ReplicaOut] = Field(description="the replicas as they are now")
    crash_loop: CrashLoopOut | None = Field(None, description="while replicas keep failing: the restart backoff")
    slot_volumes: list[dict[str, Any]] = Field(default_factory=list, description="[{slot, mount_path, volume_id}]: "
                                               "every slot's volumes, kept ones of slots scaled away included")
    created_at: dt.datetime
    updated_at: dt.datetime
