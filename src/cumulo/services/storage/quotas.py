"""S3 quotas: buckets and credentials (checked in ``buckets.create_bucket`` and ``credentials.create``),
stored bytes and object versions (checked before each upload by ``usage.admit``, see there)."""

from cumulo.services.quotas.service import Quota, count_of
from cumulo.services.storage import usage
from cumulo.services.storage.models import Bucket, Credential


async def _bytes(session, user_id):  # type: ignore[no-untyped-def]
    return (await usage.measure(session, user_id))[0]


async def _objects(session, user_id):  # type: ignore[no-untyped-def]
    return (await usage.measure(session, user_id))[1]


QUOTAS = [Quota("buckets", "quota_buckets", count_of(Bucket), description="S3 buckets"),
          Quota("storage_bytes", "quota_storage_bytes", _bytes, "bytes",
                "bytes stored in S3: every version, and parts of unfinished multipart uploads"),
          Quota("storage_objects", "quota_storage_objects", _objects, description="S3 object versions "
                "(delete markers excluded)"),
          Quota("s3_credentials", "quota_s3_credentials", count_of(Credential), description="S3 access keys")]
