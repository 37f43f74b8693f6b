"""Deployment quota (enforced in ``service.create``). Replicas are instances: they count against
the instance, vCPU and memory quotas (checked for the replicas plus the rollout's surge)."""

from __future__ import annotations

from cumulo.services.deployments.models import Deployment
from cumulo.services.quotas.service import Quota, count_of

QUOTAS = [Quota("deployments", "quota_deployments", count_of(Deployment), description="deployments")]
