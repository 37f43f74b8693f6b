"""``GET /quotas`` answer."""

from __future__ import annotations

from pydantic import BaseModel


class QuotaOut(BaseModel):
    kind: str
    limit: int | float
    used: int | float
    unit: str
    setting: str
    description: str = ""
