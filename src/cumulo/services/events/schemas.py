from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel


class EventOut(BaseModel):
    id: str
    action: str
    resource_type: str
    resource_id: str | None
    actor_id: str | None
    data: dict[str, Any]
    created_at: dt.datetime
