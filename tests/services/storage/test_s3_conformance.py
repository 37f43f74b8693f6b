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


# --- point 9: conditional writes ------------------------------------------------------------------

def test_put_object_conditions(s3: Any, bucket: str) -> None:
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as exc:  # the key exists now
        s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfNoneMatch="*")
    assert (code(exc), status(exc)) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch='"' + "0" * 32 + '"')
    assert (code(exc), status(exc)) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:  # nothing to match
        s3.put_object(Bucket=bucket, Key="missing", Body=b"x", IfMatch=first)
    assert (code(exc), status(exc)) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="missing")
    s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch=first)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    with pytest.raises(ClientError) as exc:  # the old ETag no longer matches
        s3.put_object(Bucket=bucket, Key="k", Body=b"three", IfMatch=first)
    assert code(exc) == "PreconditionFailed"
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"}, IfNoneMatch="*")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"}, IfNoneMatch="*")
    assert code(exc) == "PreconditionFailed"
    # a delete marker is no current object: If-None-Match: * writes again
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.delete_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"four", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"four"


def test_complete_multipart_conditions(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"new")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload, MultipartUpload=parts, IfNoneMatch="*")
    assert (code(exc), status(exc)) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload, MultipartUpload=parts,
                                     IfMatch='"' + "0" * 32 + '"')
    assert code(exc) == "PreconditionFailed"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"old"
    current = s3.head_object(Bucket=bucket, Key="k")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload, MultipartUpload=parts, IfMatch=current)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_conditional_writes_race(s3: Any, bucket: str) -> None:
    """Writers that all pass the early check at once: the check where the version is written lets
    exactly one create the key (If-None-Match) and one win each compare-and-swap round (If-Match)."""
    from concurrent.futures import ThreadPoolExecutor

    def create(i: int) -> bool:
        try:
            s3.put_object(Bucket=bucket, Key="lock", Body=str(i).encode(), IfNoneMatch="*")
            return True
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "PreconditionFailed"
            return False

    with ThreadPoolExecutor(16) as pool:
        won = list(pool.map(create, range(32)))
    assert won.count(True) == 1
    assert s3.get_object(Bucket=bucket, Key="lock")["Body"].read() == str(won.index(True)).encode()
    etag = s3.head_object(Bucket=bucket, Key="lock")["ETag"]

    def swap(i: int) -> bool:
        try:
            s3.put_object(Bucket=bucket, Key="lock", Body=f"swap {i}".encode(), IfMatch=etag)
            return True
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "PreconditionFailed"
            return False

    with ThreadPoolExecutor(16) as pool:
        swapped = list(pool.map(swap, range(32)))
    assert swapped.count(True) == 1
    assert s3.get_object(Bucket=bucket, Key="lock")["Body"].read() == f"swap {swapped.index(True)}".encode()


# --- point 11: presigned SigV4 URL expiry ---------------------------------------------------------

def _presign(creds: dict[str, Any], url: str, expires: int, monkeypatch: pytest.MonkeyPatch,
             signed_at: Any = None) -> str:
    """A SigV4 query-signed URL (botocore's signer), optionally signed at another time."""
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    if signed_at is not None:
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: signed_at)
    request = AWSRequest(method="GET", url=url)
    botocore.auth.S3SigV4QueryAuth(Credentials(creds["access_key_id"], creds["secret_access_key"]), "s3",
                                   "us-east-1", expires=expires).add_auth(request)
    monkeypatch.undo()
    return request.url  # type: ignore[no-any-return]


def test_presigned_expiry_out_of_range_is_access_denied(server: LiveServer, creds: dict[str, Any], s3: Any,
                                                        bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    import httpx

    s3.put_object(Bucket=bucket, Key="doc", Body=b"hello")
    target = f"{server.s3_url}/{bucket}/doc"
    assert httpx.get(_presign(creds, target, 60, monkeypatch)).content == b"hello"
    assert httpx.get(_presign(creds, target, 604800, monkeypatch)).status_code == 200
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    cases = {"zero": _presign(creds, target, 0, monkeypatch),
             "negative": _presign(creds, target, -7, monkeypatch),
             "beyond 7 days": _presign(creds, target, 604801, monkeypatch),
             "expired": _presign(creds, target, 60, monkeypatch, signed_at=now - dt.timedelta(minutes=5))}
    for what, url in cases.items():
        answer = httpx.get(url)
        assert answer.status_code == 403, (what, answer.text)
        assert "<Code>AccessDenied</Code>" in answer.text, what


# --- point 10: delete markers on unversioned and suspended buckets --------------------------------

def test_delete_on_unversioned_bucket(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    answer = s3.delete_object(Bucket=bucket, Key="k")
    assert "VersionId" not in answer and "DeleteMarker" not in answer  # S3 returns neither here
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)
    assert "DeleteMarkers" not in s3.list_object_versions(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    many = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "never"}]})
    assert sorted(d["Key"] for d in many["Deleted"]) == ["a", "never"]
    assert not any("DeleteMarker" in d or "VersionId" in d for d in many["Deleted"])
    s3.put_object(Bucket=bucket, Key="n", Body=b"x")  # the "null" version can be named
    assert s3.head_object(Bucket=bucket, Key="n", VersionId="null")["ContentLength"] == 1
    s3.delete_object(Bucket=bucket, Key="n", VersionId="null")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_markers_on_suspended_bucket(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"plain")  # before versioning: the "null" version
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.head_object(Bucket=bucket, Key="k")["VersionId"] == "null"
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True and marker["VersionId"] == "null"
    listed = s3.list_object_versions(Bucket=bucket)
    # the delete marker replaced the "null" version; the versioned one stays
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [(v1, False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [("null", True)]
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k")
    assert status(exc) == 404
    headers = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers.get("x-amz-delete-marker") == "true" and headers.get("x-amz-version-id") == "null"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId="null")
    assert (code(exc), status(exc)) == ("MethodNotAllowed", 405)
    # a second delete replaces the marker, it does not pile up
    again = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})["Deleted"][0]
    assert again["DeleteMarker"] is True and again["DeleteMarkerVersionId"] == "null"
    assert len(s3.list_object_versions(Bucket=bucket)["DeleteMarkers"]) == 1
    # a put on a suspended bucket writes the "null" version, over the marker
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    assert put["VersionId"] == "null"
    assert s3.get_object(Bucket=bucket, Key="k")["VersionId"] == "null"
    listed = s3.list_object_versions(Bucket=bucket)
    assert "DeleteMarkers" not in listed
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [("null", True), (v1, False)]
    # the tagging calls say which version they read or changed
    tagging = {"TagSet": [{"Key": "a", "Value": "b"}]}
    assert s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagging)["VersionId"] == "null"
    assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["VersionId"] == v1
    assert s3.delete_object_tagging(Bucket=bucket, Key="k")["VersionId"] == "null"
    # removing the marker-free "null" version brings v1 back
    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId="null")
    assert removed["VersionId"] == "null" and "DeleteMarker" not in removed
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    # deleting a delete marker by id says so
    s3.delete_object(Bucket=bucket, Key="k")
    gone = s3.delete_object(Bucket=bucket, Key="k", VersionId="null")
    assert gone["DeleteMarker"] is True and gone["VersionId"] == "null"
    many = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": v1}]})["Deleted"][0]
    assert many["VersionId"] == v1 and "DeleteMarker" not in many
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)


# --- point 13: owner names, Content-Encoding, control characters, partNumber ----------------------

def test_owner_display_name_is_the_users_name(user: Client, s3: Any, bucket: str) -> None:
    me = user.identity.me()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    owners = [s3.list_buckets()["Owner"], s3.list_objects(Bucket=bucket)["Contents"][0]["Owner"],
              s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]["Owner"],
              s3.list_object_versions(Bucket=bucket)["Versions"][0]["Owner"], s3.get_bucket_acl(Bucket=bucket)["Owner"]]
    for owner in owners:
        assert owner == {"ID": me["id"], "DisplayName": me["name"]}
        assert owner["DisplayName"] != "cumulo"


def test_content_encoding_comes_back_as_sent(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentEncoding="deflate, gzip")
    assert s3.get_object(Bucket=bucket, Key="k")["ContentEncoding"] == "deflate, gzip"
    assert s3.head_object(Bucket=bucket, Key="k")["ContentEncoding"] == "deflate, gzip"


def test_control_character_keys_round_trip(s3: Any, bucket: str) -> None:
    keys = ["tab\there", "bell\x07", "line\nfeed", "carriage\rreturn", "esc\x1b[0m", "del\x7f", "\x01start"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    # boto3 asks for EncodingType=url on listings and decodes the keys
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == sorted(keys)
    assert sorted(o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]) == sorted(keys)
    assert sorted(v["Key"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]) == sorted(keys)
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="nul\x00", Body=b"x")
    assert status(exc) == 400


def test_get_part_number(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"hello")
    whole = s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)
    assert whole["Body"].read() == b"hello" and "PartsCount" not in whole
    assert "PartsCount" not in s3.head_object(Bucket=bucket, Key="plain", PartNumber=1)
    for number in (2, 3):
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key="plain", PartNumber=number)
        assert (code(exc), status(exc)) == ("InvalidPartNumber", 416)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="plain", PartNumber=2)
    assert status(exc) == 416
    # a multipart object: each part by number, x-amz-mp-parts-count
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    first, last = b"a" * (5 * 1024 * 1024), b"tail"
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n,
                                                      Body=body)["ETag"]} for n, body in ((1, first), (2, last))]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert got["Body"].read() == last and got["PartsCount"] == 2
    assert got["ContentRange"] == f"bytes {len(first)}-{len(first) + len(last) - 1}/{len(first) + len(last)}"
    assert s3.head_object(Bucket=bucket, Key="mp", PartNumber=1)["ContentLength"] == len(first)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=3)
    assert code(exc) == "InvalidPartNumber"


# --- point 7: GetObjectAttributes -----------------------------------------------------------------

ALL_ATTRIBUTES = ["ETag", "ObjectParts", "StorageClass", "ObjectSize", "Checksum"]


def test_get_object_attributes(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket=bucket, Key="plain", Body=b"hello")
    got = s3.get_object_attributes(Bucket=bucket, Key="plain", ObjectAttributes=ALL_ATTRIBUTES)
    assert (got["ETag"], got["ObjectSize"], got["StorageClass"]) == (put["ETag"].strip('"'), 5, "STANDARD")
    assert got["VersionId"] == put["VersionId"] and "ObjectParts" not in got and "LastModified" in got
    only = s3.get_object_attributes(Bucket=bucket, Key="plain", ObjectAttributes=["ObjectSize"])
    assert only["ObjectSize"] == 5 and "ETag" not in only
    s3.put_object(Bucket=bucket, Key="plain", Body=b"newer")
    old = s3.get_object_attributes(Bucket=bucket, Key="plain", VersionId=put["VersionId"],
                                   ObjectAttributes=["ETag"])
    assert old["ETag"] == put["ETag"].strip('"')
    # a multipart object: its parts, paged
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    bodies = [b"a" * (5 * 1024 * 1024), b"b" * (5 * 1024 * 1024), b"tail"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n,
                                                      Body=body)["ETag"]} for n, body in enumerate(bodies, 1)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    first = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=ALL_ATTRIBUTES, MaxParts=2)
    assert first["ETag"] == done["ETag"].strip('"') and first["ObjectSize"] == sum(map(len, bodies))
    op = first["ObjectParts"]
    assert op["TotalPartsCount"] == 3 and op["IsTruncated"] is True and op["NextPartNumberMarker"] == 2
    assert [(p["PartNumber"], p["Size"]) for p in op["Parts"]] == [(1, len(bodies[0])), (2, len(bodies[1]))]
    rest = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2,
                                    PartNumberMarker=2)["ObjectParts"]
    assert rest["IsTruncated"] is False and [(p["PartNumber"], p["Size"]) for p in rest["Parts"]] == [(3, 4)]
    # errors
    for attributes, expected in (([], "InvalidArgument"), (["Colour"], "InvalidArgument")):
        with pytest.raises(ClientError) as exc:
            s3.get_object_attributes(Bucket=bucket, Key="plain", ObjectAttributes=attributes)
        assert (code(exc), status(exc)) == (expected, 400)
    with pytest.raises(ClientError) as exc:
        s3.get_object_attributes(Bucket=bucket, Key="missing", ObjectAttributes=["ETag"])
    assert (code(exc), status(exc)) == ("NoSuchKey", 404)
    s3.delete_object(Bucket=bucket, Key="plain")
    with pytest.raises(ClientError) as exc:
        s3.get_object_attributes(Bucket=bucket, Key="plain", ObjectAttributes=["ETag"])
    assert status(exc) == 404


def test_get_object_attributes_of_another_users_object(s3: Any, other_s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        other_s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ETag"])
    assert (code(exc), status(exc)) == ("AccessDenied", 403)
