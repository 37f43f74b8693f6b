"""Notify quotas (checked in ``service.create_topic`` and ``service.subscribe``)."""

from cumulo.services.notify.models import Subscription, Topic
from cumulo.services.quotas.service import Quota, count_of

QUOTAS = [Quota("topics", "quota_topics", count_of(Topic), description="notify topics"),
          Quota("subscriptions", "quota_subscriptions", count_of(Subscription),
                description="notify subscriptions, all topics together")]
