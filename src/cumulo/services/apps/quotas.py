"""App quota (checked in ``service.create``)."""

from __future__ import annotations

from cumulo.services.apps.models import App
from cumulo.services.quotas.service import Quota, count_of

QUOTAS = [Quota("apps", "quota_apps", count_of(App), description="your apps")]
