"""Metric series of instances, databases, caches and deployments."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class MetricPoint(BaseModel):
    time: dt.datetime
    cpu_percent: float = Field(description="of one CPU (100 = one full CPU); a deployment: its replicas' sum")
    memory_bytes: int
    memory_limit_bytes: int
    memory_percent: float
    pids: int
    members: int = Field(1, description="containers in the sample: a deployment's replicas at that moment")


class MetricsOut(BaseModel):
    resource_type: str = Field(description="instance, database, cache or deployment")
    resource_id: str
    instance_id: str | None = Field(None, description="an instance's series: its id (as resource_id)")
    interval_seconds: float
    retention_seconds: int
    points: list[MetricPoint]
