"""Cache quota (checked in ``service.create``)."""

from cumulo.services.caches.models import Cache
from cumulo.services.quotas.service import Quota, count_of

QUOTAS = [Quota("caches", "quota_caches", count_of(Cache), description="managed caches (Redis)")]
