"""S3 behaviour beyond the common path (issue 14): what the AWS S3 API reference documents, through
boto3 (raw HTTP where boto3 cannot express the request), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

from cumulo.client import Client
from cumulo.services.storage.models import Bucket, ObjectVersion, Part, Upload
from cumulo.services.storage.versions import blob_store
from cumulo.testing.server import LiveServer


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]  # type: ignore[no-any-return]


def status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]  # type: ignore[no-any-return]


def _stored(server: LiveServer, bucket: str) -> dict[str, Any]:
    """What the database holds for ``bucket``: its id, versions, uploads and their parts' blobs."""
    async def read() -> dict[str, Any]:
        async with server.platform.db.session() as session:
            bucket_id = await session.scalar(select(Bucket.id).where(Bucket.name == bucket))
            uploads = list((await session.scalars(select(Upload.id).where(Upload.bucket_id == bucket_id))).all())
            return {"id": bucket_id, "uploads": uploads,
                    "versions": list((await session.scalars(select(ObjectVersion.blob_id).where(
                        ObjectVersion.bucket_id == bucket_id))).all()),
                    "part_blobs": list((await session.scalars(select(Part.blob_id).where(
                        Part.upload_id.in_(uploads)))).all()) if uploads else []}
    return server.call(read())


# --- point 1: failed completions and uploads in progress never keep a bucket -----------------------

@pytest.mark.parametrize("versioning", [False, True])
def test_bucket_deletable_after_failed_completions(server: LiveServer, s3: Any, bucket: str,
                                                   versioning: bool) -> None:
    if versioning:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="src", Body=b"abc")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"a" * 10)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=2, Body=b"b" * 10)["ETag"]
    attempts = {
        "no parts": ([], "MalformedXML"),
        "part too small": ([(1, e1), (2, e2)], "EntityTooSmall"),
        "missing part": ([(1, e1), (3, e2)], "InvalidPart"),
        "wrong etag": ([(1, '"' + "0" * 32 + '"')], "InvalidPart"),
    }
    for what, (parts, expected) in attempts.items():
        with pytest.raises(ClientError) as exc:
            s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload, MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]})
        assert (code(exc), status(exc)) == (expected, 400), what
    with pytest.raises(ClientError) as exc:  # an invalid copy range: the part is refused
        s3.upload_part_copy(Bucket=bucket, Key="big", UploadId=upload, PartNumber=3,
                            CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange="bytes=0-99")
    assert code(exc) == "InvalidArgument"
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": 3, "ETag": e1}]})
    assert code(exc) == "InvalidPart"
    # a second upload still in progress, never completed
    other = s3.create_multipart_upload(Bucket=bucket, Key="other")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="other", UploadId=other, PartNumber=1, Body=b"c" * 10)
    # no failed completion left an object behind: only "src" is listed
    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["Key"] for v in listed.get("Versions", [])] == ["src"]
    assert "DeleteMarkers" not in listed
    before = _stored(server, bucket)
    assert len(before["versions"]) == 1 and len(before["uploads"]) == 2 and len(before["part_blobs"]) == 3
    store = blob_store(server.platform)
    assert all(store.exists(b) for b in before["part_blobs"])
    # delete every listed version (and the delete marker a versioned delete leaves)
    s3.delete_object(Bucket=bucket, Key="src")
    for entry in s3.list_object_versions(Bucket=bucket).get("Versions", []) + \
            s3.list_object_versions(Bucket=bucket).get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
    s3.delete_bucket(Bucket=bucket)  # was BucketNotEmpty: the uploads are aborted with the bucket
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=bucket)
    assert status(exc) == 404
    after = _stored(server, bucket)
    assert after["id"] is None
    assert not any(store.exists(b) for b in before["part_blobs"])  # the parts' bytes are gone too
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="other", UploadId=other)
    assert code(exc) == "NoSuchBucket"


def test_rest_delete_aborts_uploads(server: LiveServer, user: Client, s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"x")
    blobs = _stored(server, bucket)["part_blobs"]
    user.storage.delete_bucket(bucket)
    assert bucket not in [b["name"] for b in user.storage.buckets()]
    assert not any(blob_store(server.platform).exists(b) for b in blobs)
