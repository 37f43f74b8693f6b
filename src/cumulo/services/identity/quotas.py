"""API key quota (checked in ``service.create_key``; a login at the limit replaces the oldest login key)."""

from cumulo.services.identity.models import ApiKey
from cumulo.services.quotas.service import Quota, count_of

QUOTAS = [Quota("api_keys", "quota_api_keys", count_of(ApiKey), description="API keys, login keys included")]
