"""Cron quota (checked in ``service.create``)."""

from cumulo.services.cron.models import CronJob
from cumulo.services.quotas.service import Quota, count_of

QUOTAS = [Quota("cron_jobs", "quota_cron_jobs", count_of(CronJob), description="cron jobs")]
