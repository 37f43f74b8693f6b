"""Issue 14 point 4: lifecycle configuration (Put/Get/Delete with S3's validation) and the rules
executed by the worker's pass, run at chosen dates (the pass takes ``now``: a test clock), on SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cumulo.services.storage import buckets as bucket_service
from cumulo.services.storage import expiration
from cumulo.testing.server import LiveServer


def fails(call: Any, expected: str, status: int) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    assert (exc.value.response["ResponseMetadata"]["HTTPStatusCode"], exc.value.response["Error"]["Code"]) == \
        (status, expected)


def apply(server: LiveServer, bucket: str, days_ahead: float) -> dict[str, int]:
    """Run the bucket's rules as the pass would ``days_ahead`` days from now."""
    async def go() -> dict[str, int]:
        bucket_service.forget(server.platform, bucket)
        row = await bucket_service.lookup(server.platform, bucket)
        return await expiration.apply(server.platform, row, dt.datetime.now(dt.UTC) + dt.timedelta(days=days_ahead))
    return server.call(go())


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def rule(rule_id: str, **body: Any) -> dict[str, Any]:
    return {"ID": rule_id, "Status": "Enabled", "Filter": {"Prefix": ""}, **body}


def test_lifecycle_configuration_validation(s3: Any, other_s3: Any, bucket: str) -> None:
    fails(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket), "NoSuchLifecycleConfiguration", 404)
    rules = [
        {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}},
        {"ID": "tagged", "Status": "Disabled",
         "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "kind", "Value": "scratch"}],
                            "ObjectSizeGreaterThan": 10}},
         "Expiration": {"Date": dt.datetime(2031, 1, 1, tzinfo=dt.UTC)}},
        {"ID": "old-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}},
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "gone/"},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert got == rules
    bad = {
        "long id": ([rule("x" * 256, Expiration={"Days": 1})], "InvalidArgument"),
        "same id": ([rule("a", Expiration={"Days": 1}), rule("a", Expiration={"Days": 2})], "InvalidArgument"),
        "status": ([{**rule("a", Expiration={"Days": 1}), "Status": "On"}], "MalformedXML"),
        "not midnight": ([rule("a", Expiration={"Date": dt.datetime(2031, 1, 1, 12, tzinfo=dt.UTC)})],
                         "InvalidArgument"),
        "zero days": ([rule("a", Expiration={"Days": 0})], "InvalidArgument"),
        "no action": ([rule("a")], "InvalidRequest"),
        "days and date": ([rule("a", Expiration={"Days": 1, "Date": dt.datetime(2031, 1, 1, tzinfo=dt.UTC)})],
                          "MalformedXML"),
        "abort with tags": ([{**rule("a", AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1}),
                              "Filter": {"Tag": {"Key": "k", "Value": "v"}}}], "InvalidRequest"),
    }
    for what, (config, expected) in bad.items():
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": config})
        assert exc.value.response["Error"]["Code"] == expected, what
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == rules  # unchanged
    fails(lambda: other_s3.get_bucket_lifecycle_configuration(Bucket=bucket), "AccessDenied", 403)
    fails(lambda: other_s3.delete_bucket_lifecycle(Bucket=bucket), "AccessDenied", 403)
    s3.delete_bucket_lifecycle(Bucket=bucket)
    fails(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket), "NoSuchLifecycleConfiguration", 404)


def test_expiration_by_days_date_prefix_tags_and_size(server: LiveServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="logs/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="logs/b", Body=b"b" * 100)
    s3.put_object(Bucket=bucket, Key="keep/c", Body=b"c")
    s3.put_object(Bucket=bucket, Key="tmp/d", Body=b"d", Tagging="kind=scratch")
    s3.put_object(Bucket=bucket, Key="tmp/e", Body=b"e")
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "small-logs", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "logs/", "ObjectSizeLessThan": 50}}, "Expiration": {"Days": 2}},
        {"ID": "scratch", "Status": "Enabled", "Filter": {"Tag": {"Key": "kind", "Value": "scratch"}},
         "Expiration": {"Date": (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).replace(
             hour=0, minute=0, second=0, microsecond=0)}},
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"}, "Expiration": {"Days": 1}}]})
    assert apply(server, bucket, 0)["expired"] == 0
    assert apply(server, bucket, 1)["expired"] == 0  # at most one midnight has passed
    assert apply(server, bucket, 3)["expired"] == 1
    assert keys(s3, bucket) == ["keep/c", "logs/b", "tmp/d", "tmp/e"]
    assert apply(server, bucket, 11)["expired"] == 1  # the date has come for the tagged one
    assert keys(s3, bucket) == ["keep/c", "logs/b", "tmp/e"]


def test_versioned_expiration_noncurrent_versions_and_markers(server: LiveServer, s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"v1", b"v2", b"v3", b"v4"):
        s3.put_object(Bucket=bucket, Key="doc", Body=body)
    s3.put_object(Bucket=bucket, Key="gone/x", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="gone/x")
    s3.put_object(Bucket=bucket, Key="cur/y", Body=b"y")
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {**rule("noncurrent", NoncurrentVersionExpiration={"NoncurrentDays": 5, "NewerNoncurrentVersions": 1}),
         "Filter": {"Prefix": "doc"}},
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "gone/"},
         "Expiration": {"ExpiredObjectDeleteMarker": True}, "NoncurrentVersionExpiration": {"NoncurrentDays": 5}},
        {"ID": "current", "Status": "Enabled", "Filter": {"Prefix": "cur/"}, "Expiration": {"Days": 1}}]})

    def versions(key: str) -> list[tuple[bool, bool]]:
        listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
        out = [(v["IsLatest"], False) for v in listed.get("Versions", [])]
        return out + [(m["IsLatest"], True) for m in listed.get("DeleteMarkers", [])]

    done = apply(server, bucket, 3)
    assert (done["noncurrent"], done["markers"]) == (0, 0)  # noncurrent for too short a time
    assert done["expired"] == 1  # cur/y got a delete marker: the bucket is versioned
    assert sorted(versions("cur/")) == [(False, False), (True, True)]
    done = apply(server, bucket, 7)
    assert done["noncurrent"] == 2 + 1  # doc keeps v4 (current) and v3 (the newest noncurrent); gone/x's v1
    assert done["markers"] == 1  # then gone/x's marker stood alone and was removed
    doc = s3.list_object_versions(Bucket=bucket, Prefix="doc")["Versions"]
    assert [s3.get_object(Bucket=bucket, Key="doc", VersionId=v["VersionId"])["Body"].read() for v in doc] == \
        [b"v4", b"v3"]
    assert versions("gone/") == []
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"v4"


def test_abort_incomplete_uploads_and_the_pass(server: LiveServer, s3: Any, bucket: str) -> None:
    tmp = s3.create_multipart_upload(Bucket=bucket, Key="tmp/big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="tmp/big", UploadId=tmp, PartNumber=1, Body=b"p" * 100)
    s3.create_multipart_upload(Bucket=bucket, Key="other/big")
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "uploads", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]})
    assert apply(server, bucket, 1)["aborted"] == 0
    done = server.call(expiration.run(server.platform, dt.datetime.now(dt.UTC) + dt.timedelta(days=3)))
    assert done["aborted"] >= 1
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == ["other/big"]
    fails(lambda: s3.list_parts(Bucket=bucket, Key="tmp/big", UploadId=tmp), "NoSuchUpload", 404)
