"""REST API shapes for /storage (buckets, objects, S3 credentials)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class BucketIn(BaseModel):
    name: str = Field(min_length=1, max_length=63, description="S3 bucket name rules; names are global")


class BucketOut(BaseModel):
    name: str
    created_at: dt.datetime
    versioning: str = Field(description="'', 'Enabled' or 'Suspended'")
    public: bool = Field(description="a bucket policy or the bucket's ACL grants access to everyone (and the "
                         "public access block does not cancel it)")


class ObjectOut(BaseModel):
    bucket: str
    key: str
    size: int
    etag: str
    content_type: str
    last_modified: dt.datetime
    version_id: str | None = None


class ObjectListOut(BaseModel):
    bucket: str
    prefix: str
    objects: list[ObjectOut]
    common_prefixes: list[str] = []
    is_truncated: bool
    next_after: str | None = Field(None, description="pass as ?after= to get the next page")


class CredentialIn(BaseModel):
    name: str = Field("", max_length=100)


class CredentialOut(BaseModel):
    id: str
    name: str
    access_key_id: str
    created_at: dt.datetime
    last_used: dt.datetime | None = None


class CredentialCreatedOut(CredentialOut):
    secret_access_key: str = Field(description="shown once; store it now")
    endpoint_url: str
    region: str
