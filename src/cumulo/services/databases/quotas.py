"""Database quota (checked in ``service.create``)."""

from cumulo.services.databases.models import ManagedDatabase
from cumulo.services.quotas.service import Quota, count_of

QUOTAS = [Quota("databases", "quota_databases", count_of(ManagedDatabase), description="managed databases")]
