"""Access control lists, the public access block and Object Ownership, as S3 documents them.

A grant is ``[grantee, permission]``: the grantee is ``"id:<user id>"`` (a canonical user: Cumulo's
user id) or a group URI. Every object is owned by its bucket's owner (ownership
``BucketOwnerPreferred`` semantics, whoever wrote it), who always has full control whatever the
ACL says. ``None`` as a stored ACL means the canned ``private``: the owner only."""

from __future__ import annotations

from typing import Any

from cumulo.services.storage.errors import S3Error

GROUPS = "http://acs.amazonaws.com/groups/"
ALL_USERS = GROUPS + "global/AllUsers"
AUTHENTICATED = GROUPS + "global/AuthenticatedUsers"
LOG_DELIVERY = GROUPS + "s3/LogDelivery"
PUBLIC = (ALL_USERS, AUTHENTICATED)
PERMISSIONS = ("READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL")
CANNED = {
    "private": (),
    "public-read": ((ALL_USERS, "READ"),),
    "public-read-write": ((ALL_USERS, "READ"), (ALL_USERS, "WRITE")),
    "authenticated-read": ((AUTHENTICATED, "READ"),),
    "bucket-owner-read": (),  # the bucket owner is the object owner
    "bucket-owner-full-control": (),
    "log-delivery-write": ((LOG_DELIVERY, "WRITE"), (LOG_DELIVERY, "READ_ACP")),
    "aws-exec-read": (),
}
# What a permission lets a non-owner do (bucket ACL / object ACL).
BUCKET_ACTIONS = {"s3:ListBucket": "READ", "s3:ListBucketVersions": "READ", "s3:ListBucketMultipartUploads": "READ",
                  "s3:PutObject": "WRITE", "s3:DeleteObject": "WRITE", "s3:AbortMultipartUpload": "WRITE",
                  "s3:GetBucketAcl": "READ_ACP", "s3:PutBucketAcl": "WRITE_ACP"}
OBJECT_ACTIONS = {"s3:GetObject": "READ", "s3:GetObjectVersion": "READ", "s3:GetObjectAcl": "READ_ACP",
                  "s3:GetObjectVersionAcl": "READ_ACP", "s3:PutObjectAcl": "WRITE_ACP",
                  "s3:PutObjectVersionAcl": "WRITE_ACP"}
OWNERSHIP = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")
BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def canned(name: str, owner_id: str) -> list[list[str]]:
    if name not in CANNED:
        raise S3Error("InvalidArgument", f"unknown canned ACL {name!r}", 400)
    return [[f"id:{owner_id}", "FULL_CONTROL"], *([g, p] for g, p in CANNED[name])]


def effective(grants: list[list[str]] | None, owner_id: str) -> list[list[str]]:
    return grants if grants is not None else canned("private", owner_id)


def is_public(grants: list[list[str]] | None) -> bool:
    return bool(grants) and any(g in PUBLIC for g, _ in grants or ())


def is_owner_only(grants: list[list[str]] | None, owner_id: str) -> bool:
    return all(g == f"id:{owner_id}" for g, _ in grants or ())


def enabled(bucket: Any) -> bool:
    """ACLs count for access unless the bucket's Object Ownership is ``BucketOwnerEnforced``."""
    return bool(bucket.ownership != "BucketOwnerEnforced")


def block(bucket: Any, flag: str) -> bool:
    return bool(bucket.public_block and bucket.public_block.get(flag))


def grants_allow(bucket: Any, grants: list[list[str]] | None, user_id: str | None, permission: str) -> bool:
    if not grants:
        return False
    ignore_public = block(bucket, "IgnorePublicAcls")
    for grantee, perm in grants:
        if perm != permission and perm != "FULL_CONTROL":
            continue
        if grantee == ALL_USERS or (grantee == AUTHENTICATED and user_id is not None):
            if not ignore_public:
                return True
        elif user_id is not None and grantee == f"id:{user_id}":
            return True
    return False


def check_writable(bucket: Any, grants: list[list[str]] | None) -> None:
    """Refuse an ACL that this bucket may not take (ownership enforced, public ACLs blocked)."""
    if grants is None:
        return
    if not enabled(bucket) and not is_owner_only(grants, bucket.user_id):
        raise S3Error("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)
    if block(bucket, "BlockPublicAcls") and is_public(grants):
        raise S3Error("AccessDenied", "Access Denied (the bucket's public access block refuses public ACLs)", 403)


def check_ownership(grants: list[list[str]] | None, owner_id: str, value: str | None) -> None:
    if value == "BucketOwnerEnforced" and not is_owner_only(grants, owner_id):
        raise S3Error("InvalidBucketAclWithObjectOwnership", "Bucket cannot have ACLs set with ObjectOwnership's "
                      "BucketOwnerEnforced setting", 400)
