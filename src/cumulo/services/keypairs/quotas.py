"""Key pair quota (checked in ``service``)."""

from cumulo.services.keypairs.models import KeyPair
from cumulo.services.quotas.service import Quota, count_of

QUOTAS = [Quota("keypairs", "quota_keypairs", count_of(KeyPair), description="SSH key pairs")]
