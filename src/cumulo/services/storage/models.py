"""Buckets, object versions, multipart uploads and per-user S3 credentials.

Bytes live in the blob driver; a row points at its blob by ``blob_id``. Listing walks the partial
unique index ``(bucket_id, key) WHERE is_latest`` (keys collate as bytes, "C", on PostgreSQL), so
it costs the same with a million objects as with ten.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from cumulo.core.clock import utcnow
from cumulo.db.base import Base, IdMixin

KEY_LEN = 1024


class Bucket(IdMixin, Base):
    __tablename__ = "storage_buckets"

    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    versioning: Mapped[str] = mapped_column(String(16), default="")  # "", "Enabled", "Suspended"
    policy: Mapped[str | None] = mapped_column(Text, nullable=True)
    cors: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # PublicAccessBlockConfiguration as {flag: bool}; None: no block configured.
    public_block: Mapped[dict[str, bool] | None] = mapped_column(JSON, nullable=True, default=None)
    # Grants as [[grantee, permission], ...] (see ``acls``); None: the owner only ("private").
    acl: Mapped[list[list[str]] | None] = mapped_column(JSON, nullable=True, default=None)
    # Object Ownership control; None: none set (ACLs on, objects owned by the bucket owner).
    ownership: Mapped[str | None] = mapped_column(String(32), nullable=True, default=None)
    # Lifecycle rules as dicts (``s3.rules``), run by ``expiration``; None: no configuration.
    lifecycle: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True, default=None)
    # Object Lock (``locking``): None: not enabled; {"rule": None | {"mode", "days", "years"}} (default retention).
    object_lock: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)


class ObjectVersion(IdMixin, Base):
    __tablename__ = "storage_objects"
    __table_args__ = (
        Index("ix_storage_objects_latest", "bucket_id", "key", unique=True,
              sqlite_where=text("is_latest"), postgresql_where=text("is_latest")),
        Index("ix_storage_objects_versions", "bucket_id", "key", "seq"),
    )

    bucket_id: Mapped[str] = mapped_column(String(36), ForeignKey("storage_buckets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_LEN))
    version_id: Mapped[str] = mapped_column(String(64), default="null")
    seq: Mapped[int] = mapped_column(BigInteger)  # creation order (ns clock), newest first in version lists
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True)
    is_delete_marker: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    etag: Mapped[str] = mapped_column(String(64), default="")
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # x-amz-meta-*, system headers, tags
    blob_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Object Lock retention ("GOVERNANCE"/"COMPLIANCE" until ``lock_until``) and legal hold.
    lock_mode: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    lock_until: Mapped[dt.datetime | None] = mapped_column(nullable=True, default=None)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class Upload(IdMixin, Base):
    """A multipart upload in progress."""

    __tablename__ = "storage_uploads"

    bucket_id: Mapped[str] = mapped_column(String(36), ForeignKey("storage_buckets.id", ondelete="CASCADE"),
                                           index=True)
    key: Mapped[str] = mapped_column(String(KEY_LEN))
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Part(Base):
    __tablename__ = "storage_parts"

    upload_id: Mapped[str] = mapped_column(String(36), ForeignKey("storage_uploads.id", ondelete="CASCADE"),
                                           primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(64))
    blob_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    checksum: Mapped[str | None] = mapped_column(String(128), nullable=True)  # "<algorithm>:<base64>"


class Credential(IdMixin, Base):
    """An S3 access key pair; the secret is sealed with the master key (SigV4 needs it in clear)."""

    __tablename__ = "storage_credentials"

    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"), index=True)
    access_key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class RequestUsage(Base):
    """The S3 requests on one bucket in one minute, by price class (``requests``): what each process
    counted in memory, added here every few seconds (at most one row per bucket and minute, whatever
    the traffic). Kept after the bucket is deleted, so its last requests are still billed."""

    __tablename__ = "storage_request_usage"
    __table_args__ = (Index("ix_storage_request_usage_minute", "minute"),)

    bucket_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    minute: Mapped[dt.datetime] = mapped_column(primary_key=True)  # the minute's start (UTC)
    user_id: Mapped[str] = mapped_column(String(36))  # the bucket's owner: who pays, as on S3
    bucket_name: Mapped[str] = mapped_column(String(63))
    put_requests: Mapped[int] = mapped_column(BigInteger, default=0)  # PUT, COPY, POST, LIST
    get_requests: Mapped[int] = mapped_column(BigInteger, default=0)  # GET, HEAD and the other reads
