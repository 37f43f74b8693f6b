"""Instance metric series."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class MetricPoint(BaseModel):
    time: dt.datetime
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int
    memory_percent: float
    pids: int


class MetricsOut(BaseModel):
    instance_id: str
    interval_seconds: float
    retention_seconds: int
    points: list[MetricPoint]
