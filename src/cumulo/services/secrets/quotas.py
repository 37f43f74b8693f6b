"""Secrets quota (checked in ``service.create``); secrets scheduled for deletion still count."""

from cumulo.services.quotas.service import Quota, count_of
from cumulo.services.secrets.models import Secret

QUOTAS = [Quota("secrets", "quota_secrets", count_of(Secret), description="secrets, including those scheduled "
                "for deletion")]
