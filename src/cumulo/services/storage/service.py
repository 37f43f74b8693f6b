"""Storage use cases, one import away: buckets, objects, listing, multipart, credentials.

The work is split by resource (``buckets.py``, ``objects.py``, ``listing.py``, ``multipart.py``,
``credentials.py``); this module re-exports the entry points other services and the two HTTP
doors (REST ``api.py`` and the S3 app) call, plus the REST renderings.
"""

from __future__ import annotations

from cumulo.core.clock import aware
from cumulo.platform import Platform
from cumulo.services.storage import acls, policies
from cumulo.services.storage.buckets import (
    authorize,
    create_bucket,
    delete_bucket,
    get_bucket,
    list_buckets,
    owned_bucket,
)
from cumulo.services.storage.listing import list_objects, list_versions
from cumulo.services.storage.models import Bucket, Credential, ObjectVersion
from cumulo.services.storage.objects import Checks, blob_store, delete_object, get_version, put_object
from cumulo.services.storage.schemas import BucketOut, CredentialOut, ObjectOut

__all__ = ["Checks", "authorize", "blob_store", "bucket_out", "create_bucket", "credential_out", "delete_bucket",
           "delete_object", "get_bucket", "get_version", "list_buckets", "list_objects", "list_versions",
           "object_out", "owned_bucket", "put_object", "s3_endpoint"]


def is_public(bucket: Bucket) -> bool:
    """Anyone may read or write something: a public policy or public bucket ACL the public access
    block does not neutralize (object ACLs are not looked at)."""
    if policies.is_public(bucket.policy) and not acls.block(bucket, "RestrictPublicBuckets"):
        return True
    return acls.enabled(bucket) and acls.is_public(bucket.acl) and not acls.block(bucket, "IgnorePublicAcls")


def bucket_out(bucket: Bucket) -> BucketOut:
    return BucketOut(name=bucket.name, created_at=aware(bucket.created_at), versioning=bucket.versioning,
                     public=is_public(bucket))


def object_out(bucket: Bucket, row: ObjectVersion) -> ObjectOut:
    return ObjectOut(bucket=bucket.name, key=row.key, size=row.size, etag=row.etag, content_type=row.content_type,
                     last_modified=aware(row.created_at),
                     version_id=row.version_id if bucket.versioning else None)


def credential_out(row: Credential) -> CredentialOut:
    return CredentialOut(id=row.id, name=row.name, access_key_id=row.access_key_id,
                         created_at=aware(row.created_at), last_used=aware(row.last_used))


def s3_endpoint(platform: Platform) -> str:
    s = platform.settings
    if s.s3_public_url:
        return s.s3_public_url.rstrip("/")
    host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
    return f"http://{host}:{s.s3_port}"
