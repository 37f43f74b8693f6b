"""Queue quota (checked in ``service.create``)."""

from cumulo.services.queues.models import Queue
from cumulo.services.quotas.service import Quota, count_of

QUOTAS = [Quota("queues", "quota_queues", count_of(Queue), description="queues")]
