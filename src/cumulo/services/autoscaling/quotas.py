"""Auto-scaling group quota (enforced in ``service.create``). Members are instances: a launch that
would pass the instance quotas fails and is recorded as a failed activity."""

from __future__ import annotations

from cumulo.services.autoscaling.models import Group
from cumulo.services.quotas.service import Quota, count_of

QUOTAS = [Quota("autoscaling_groups", "quota_autoscaling_groups", count_of(Group), description="auto-scaling groups")]
