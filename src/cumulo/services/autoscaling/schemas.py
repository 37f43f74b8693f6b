"""Auto-scaling group request and response models (``/autoscaling/groups``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cumulo.services.deployments.schemas import check_name

MAX_SIZE = 50
Metric = Literal["cpu_percent", "memory_percent", "requests_per_target"]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LaunchTemplate(In):
    """An instance spec as in ``POST /instances`` (without name, ports, volumes, password, ttl)."""

    image: str = Field(min_length=1, max_length=255)
    command: list[str] | None = Field(None, max_length=100)
    env: dict[str, str] = Field(default_factory=dict, max_length=100)
    env_secrets: dict[str, str] = Field(default_factory=dict, max_length=100)
    cpus: float | None = Field(None, gt=0, le=64)
    memory_mb: int | None = Field(None, ge=16, le=262144)
    vpc_id: str | None = Field(None, max_length=80)


class Policy(In):
    type: Literal["target_tracking"] = "target_tracking"
    metric: Metric
    target_value: float = Field(gt=0, le=1_000_000, description="cpu/memory: percent (of one CPU, as docker "
                                "stats); requests_per_target: requests per second per member")

    @model_validator(mode="after")
    def _percent(self) -> Policy:
        if self.metric == "memory_percent" and self.target_value > 100:
            raise ValueError("memory_percent target_value is a percentage (0-100]")
        return self


class GroupCreate(In):
    name: str = Field(max_length=40)
    launch_template: LaunchTemplate
    min_size: int = Field(1, ge=0, le=MAX_SIZE)
    max_size: int = Field(ge=1, le=MAX_SIZE)
    desired_capacity: int | None = Field(None, ge=0, le=MAX_SIZE, description="default: min_size")
    load_balancer_id: str | None = Field(None, max_length=80)
    target_port: int | None = Field(None, ge=1, le=65535, description="the port members serve the load "
                                    "balancer on")
    policies: list[Policy] = Field(default_factory=list, max_length=5)
    cooldown_seconds: int = Field(300, ge=0, le=86400, description="no scale-in this long after a scaling "
                                  "activity")
    warmup_seconds: int = Field(60, ge=0, le=3600, description="a new member's metrics are ignored this long, "
                                "and the group does not scale by policy while one warms up")
    scale_in_stabilization_seconds: int = Field(300, ge=0, le=3600, description="scale in only to the highest "
                                                "recommendation of this window")
    scale_in_protection: bool = Field(False, description="policies never scale in (a manual desired can)")

    _name = field_validator("name")(check_name)

    @model_validator(mode="after")
    def _bounds(self) -> GroupCreate:
        desired = self.min_size if self.desired_capacity is None else self.desired_capacity
        if not self.min_size <= desired <= self.max_size:
            raise ValueError(f"need min_size <= desired_capacity <= max_size ({self.min_size} <= {desired} <= "
                             f"{self.max_size})")
        if self.load_balancer_id and not self.target_port:
            raise ValueError("load_balancer_id needs target_port (the port members serve on)")
        if any(p.metric == "requests_per_target" for p in self.policies) and not self.load_balancer_id:
            raise ValueError("a requests_per_target policy needs load_balancer_id")
        return self


class GroupUpdate(In):
    desired_capacity: int | None = Field(None, ge=0, le=MAX_SIZE)
    min_size: int | None = Field(None, ge=0, le=MAX_SIZE)
    max_size: int | None = Field(None, ge=1, le=MAX_SIZE)


class MemberOut(BaseModel):
    instance_id: str
    name: str
    state: str
    status: str | None = Field(description="the instance's status")
    address: str | None
    in_load_balancer: bool
    warming_up: bool
    launched_at: dt.datetime


class GroupOut(BaseModel):
    id: str
    name: str
    launch_template: dict[str, Any]
    min_size: int
    max_size: int
    desired_capacity: int
    current_capacity: int
    load_balancer_id: str | None
    target_port: int | None
    policies: list[dict[str, Any]]
    cooldown_seconds: int
    warmup_seconds: int
    scale_in_stabilization_seconds: int
    scale_in_protection: bool
    status: str
    last_metrics: dict[str, Any] = Field(description="what the last evaluation measured and proposed")
    members: list[MemberOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class ActivityOut(BaseModel):
    id: str
    status: str
    cause: str
    description: str
    from_capacity: int
    to_capacity: int
    time: dt.datetime
