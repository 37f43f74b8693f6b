"""Billing declares no quota of its own. It supplies limits (a subscribed user's plan overrides the
``CUMULO_QUOTA_*`` settings for the kinds the plan names) and an admission check (402
``INSUFFICIENT_CREDITS`` at zero balance), read by ``cumulo.services.quotas.service``."""

from cumulo.services.billing.service import admission, plan_limits

QUOTAS: list[object] = []
LIMITS = plan_limits
ADMIT = admission
