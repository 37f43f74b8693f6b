"""Issue 14 point 5: S3 Object Lock with boto3 on SQLite and PostgreSQL: buckets created with Object
Lock, the default retention, Put/Get Object Retention (GOVERNANCE with the bypass, COMPLIANCE only
extended), legal holds, the lock headers of PutObject/HeadObject/GetObject, deletes of locked versions
refused (by a request or a lifecycle rule), another user's 403/404."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from botocore.exceptions import ClientError
from sqlalchemy import create_engine, inspect

from cumulo.client import Client
from cumulo.db import migrate
from cumulo.testing.server import LiveServer
from tests.services.storage.conftest import s3_client
from tests.services.storage.test_s3_lifecycle import apply


def fails(call: Any, expected: str, status: int) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    assert (exc.value.response["ResponseMetadata"]["HTTPStatusCode"], exc.value.response["Error"]["Code"]) == \
        (status, expected)


def later(days: float) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(microsecond=0)


@pytest.fixture
def locked_bucket(s3: Any, bucket_name: Callable[[], str]) -> str:
    name = bucket_name()
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def test_lock_configuration(s3: Any, other_s3: Any, locked_bucket: str, bucket: str) -> None:
    assert s3.get_bucket_versioning(Bucket=locked_bucket)["Status"] == "Enabled"
    fails(lambda: s3.put_bucket_versioning(Bucket=locked_bucket, VersioningConfiguration={"Status": "Suspended"}),
          "InvalidBucketState", 409)
    assert s3.get_object_lock_configuration(Bucket=locked_bucket)["ObjectLockConfiguration"] == \
        {"ObjectLockEnabled": "Enabled"}
    rule = {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}}
    s3.put_object_lock_configuration(Bucket=locked_bucket,
                                     ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": rule})
    assert s3.get_object_lock_configuration(Bucket=locked_bucket)["ObjectLockConfiguration"] == \
        {"ObjectLockEnabled": "Enabled", "Rule": rule}
    for bad, code in [({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, "MalformedXML"),
                      ({"Mode": "GOVERNANCE"}, "MalformedXML"), ({"Mode": "FOREVER", "Days": 1}, "MalformedXML"),
                      ({"Mode": "COMPLIANCE", "Days": 0}, "InvalidArgument"),
                      ({"Mode": "COMPLIANCE", "Years": 101}, "InvalidArgument")]:
        fails(lambda bad=bad: s3.put_object_lock_configuration(
            Bucket=locked_bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled",
                                                           "Rule": {"DefaultRetention": bad}}), code, 400)
    assert s3.get_object_lock_configuration(Bucket=locked_bucket)["ObjectLockConfiguration"]["Rule"] == rule
    # A bucket without Object Lock: not found, and not enabled while unversioned.
    fails(lambda: s3.get_object_lock_configuration(Bucket=bucket), "ObjectLockConfigurationNotFoundError", 404)
    fails(lambda: s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled"}), "InvalidBucketState", 409)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    fails(lambda: s3.put_object_retention(Bucket=bucket, Key="k", Retention={
        "Mode": "GOVERNANCE", "RetainUntilDate": later(1)}), "InvalidRequest", 400)
    fails(lambda: s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "ON"}), "InvalidRequest", 400)
    fails(lambda: s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ObjectLockLegalHoldStatus="ON"),
          "InvalidRequest", 400)
    # Once versioned, an existing bucket may take Object Lock (as S3 allows since 2023).
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["ObjectLockEnabled"] == \
        "Enabled"
    # Someone else's bucket: 403; a missing one: 404.
    fails(lambda: other_s3.get_object_lock_configuration(Bucket=locked_bucket), "AccessDenied", 403)
    fails(lambda: other_s3.put_object_lock_configuration(Bucket=locked_bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled"}), "AccessDenied", 403)
    fails(lambda: other_s3.get_object_lock_configuration(Bucket=locked_bucket + "-none"), "NoSuchBucket", 404)
    assert s3.get_object_lock_configuration(Bucket=locked_bucket)["ObjectLockConfiguration"]["Rule"] == rule


def test_put_object_lock_headers_and_default(s3: Any, server: LiveServer, creds: dict[str, Any],
                                            locked_bucket: str) -> None:
    until = later(3)
    put = s3.put_object(Bucket=locked_bucket, Key="a", Body=b"abc", ObjectLockMode="COMPLIANCE",
                        ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")
    head = s3.head_object(Bucket=locked_bucket, Key="a")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == \
        ("COMPLIANCE", until, "ON")
    got = s3.get_object(Bucket=locked_bucket, Key="a", VersionId=put["VersionId"])
    assert (got["ObjectLockMode"], got["ObjectLockRetainUntilDate"], got["Body"].read()) == \
        ("COMPLIANCE", until, b"abc")
    # Without a default, a version that asks for nothing is not locked.
    s3.put_object(Bucket=locked_bucket, Key="plain", Body=b"p")
    head = s3.head_object(Bucket=locked_bucket, Key="plain")
    assert "ObjectLockMode" not in head and "ObjectLockLegalHoldStatus" not in head
    fails(lambda: s3.get_object_retention(Bucket=locked_bucket, Key="plain"), "NoSuchObjectLockConfiguration", 404)
    fails(lambda: s3.get_object_legal_hold(Bucket=locked_bucket, Key="plain"), "NoSuchObjectLockConfiguration", 404)
    # Invalid headers.
    fails(lambda: s3.put_object(Bucket=locked_bucket, Key="b", Body=b"x", ObjectLockMode="GOVERNANCE"),
          "InvalidArgument", 400)
    fails(lambda: s3.put_object(Bucket=locked_bucket, Key="b", Body=b"x", ObjectLockRetainUntilDate=later(1)),
          "InvalidArgument", 400)
    fails(lambda: s3.put_object(Bucket=locked_bucket, Key="b", Body=b"x", ObjectLockMode="GOVERNANCE",
                                ObjectLockRetainUntilDate=later(-1)), "InvalidArgument", 400)
    fails(lambda: s3.put_object(Bucket=locked_bucket, Key="b", Body=b"x", ObjectLockMode="FOREVER",
                                ObjectLockRetainUntilDate=later(1)), "InvalidArgument", 400)
    fails(lambda: s3.put_object(Bucket=locked_bucket, Key="b", Body=b"x", ObjectLockLegalHoldStatus="MAYBE"),
          "InvalidArgument", 400)
    # Neither Content-MD5 nor a checksum: refused, as S3 requires one with lock parameters.
    bare = s3_client(server, creds, request_checksum_calculation="when_required")
    fails(lambda: bare.put_object(Bucket=locked_bucket, Key="b", Body=b"x", ObjectLockLegalHoldStatus="ON"),
          "InvalidRequest", 400)
    fails(lambda: s3.head_object(Bucket=locked_bucket, Key="b"), "404", 404)  # nothing half-created
    # The bucket's default retention goes to new versions, copies included; explicit headers win.
    s3.put_object_lock_configuration(Bucket=locked_bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    before = dt.datetime.now(dt.UTC)
    s3.put_object(Bucket=locked_bucket, Key="d", Body=b"d")
    s3.copy_object(Bucket=locked_bucket, Key="d2", CopySource={"Bucket": locked_bucket, "Key": "plain"})
    for key in ("d", "d2"):
        head = s3.head_object(Bucket=locked_bucket, Key=key)
        assert head["ObjectLockMode"] == "GOVERNANCE"
        assert before + dt.timedelta(days=1) - dt.timedelta(seconds=1) <= head["ObjectLockRetainUntilDate"] <= \
            dt.datetime.now(dt.UTC) + dt.timedelta(days=1, seconds=1)
    s3.put_object(Bucket=locked_bucket, Key="e", Body=b"e", ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=until)
    assert s3.get_object_retention(Bucket=locked_bucket, Key="e")["Retention"] == \
        {"Mode": "COMPLIANCE", "RetainUntilDate": until}


def test_governance_retention_and_bypass(s3: Any, locked_bucket: str) -> None:
    v = s3.put_object(Bucket=locked_bucket, Key="g", Body=b"g")["VersionId"]
    two = {"Mode": "GOVERNANCE", "RetainUntilDate": later(2)}
    s3.put_object_retention(Bucket=locked_bucket, Key="g", VersionId=v, Retention=two)
    assert s3.get_object_retention(Bucket=locked_bucket, Key="g", VersionId=v)["Retention"] == two
    s3.put_object_retention(Bucket=locked_bucket, Key="g", VersionId=v,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(5)})  # extending: allowed
    five = s3.get_object_retention(Bucket=locked_bucket, Key="g", VersionId=v)["Retention"]["RetainUntilDate"]
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": later(1)}
    fails(lambda: s3.put_object_retention(Bucket=locked_bucket, Key="g", VersionId=v, Retention=shorter),
          "AccessDenied", 403)
    fails(lambda: s3.put_object_retention(Bucket=locked_bucket, Key="g", VersionId=v, Retention={}),
          "AccessDenied", 403)
    assert s3.get_object_retention(Bucket=locked_bucket, Key="g", VersionId=v)["Retention"]["RetainUntilDate"] == five
    fails(lambda: s3.delete_object(Bucket=locked_bucket, Key="g", VersionId=v), "AccessDenied", 403)
    s3.put_object_retention(Bucket=locked_bucket, Key="g", VersionId=v, Retention=shorter,
                            BypassGovernanceRetention=True)
    assert s3.get_object_retention(Bucket=locked_bucket, Key="g", VersionId=v)["Retention"] == shorter
    # A delete without a version id only adds a delete marker.
    marker = s3.delete_object(Bucket=locked_bucket, Key="g")
    assert marker["DeleteMarker"] is True
    assert [x["VersionId"] for x in s3.list_object_versions(Bucket=locked_bucket)["Versions"]] == [v]
    # DeleteObjects reports the refusal per key.
    out = s3.delete_objects(Bucket=locked_bucket, Delete={"Objects": [{"Key": "g", "VersionId": v}]})
    assert [e["Code"] for e in out["Errors"]] == ["AccessDenied"] and not out.get("Deleted")
    # A locked version keeps the bucket.
    s3.delete_object(Bucket=locked_bucket, Key="g", VersionId=marker["VersionId"])
    fails(lambda: s3.delete_bucket(Bucket=locked_bucket), "BucketNotEmpty", 409)
    # The bypass lets the owner delete a GOVERNANCE version.
    s3.delete_object(Bucket=locked_bucket, Key="g", VersionId=v, BypassGovernanceRetention=True)
    assert "Versions" not in s3.list_object_versions(Bucket=locked_bucket)
    s3.delete_bucket(Bucket=locked_bucket)


def test_compliance_retention_only_extended(s3: Any, locked_bucket: str) -> None:
    v = s3.put_object(Bucket=locked_bucket, Key="c", Body=b"c", ObjectLockMode="COMPLIANCE",
                      ObjectLockRetainUntilDate=later(2))["VersionId"]
    for retention in ({"Mode": "COMPLIANCE", "RetainUntilDate": later(1)},
                      {"Mode": "GOVERNANCE", "RetainUntilDate": later(9)}, {}):
        fails(lambda retention=retention: s3.put_object_retention(
            Bucket=locked_bucket, Key="c", VersionId=v, Retention=retention, BypassGovernanceRetention=True),
            "AccessDenied", 403)
    fails(lambda: s3.delete_object(Bucket=locked_bucket, Key="c", VersionId=v, BypassGovernanceRetention=True),
          "AccessDenied", 403)
    four = {"Mode": "COMPLIANCE", "RetainUntilDate": later(4)}
    s3.put_object_retention(Bucket=locked_bucket, Key="c", VersionId=v, Retention=four)
    assert s3.get_object_retention(Bucket=locked_bucket, Key="c")["Retention"] == four
    # Invalid retention documents.
    fails(lambda: s3.put_object_retention(Bucket=locked_bucket, Key="c", VersionId=v, Retention={
        "Mode": "COMPLIANCE", "RetainUntilDate": later(-1)}), "InvalidArgument", 400)
    fails(lambda: s3.put_object_retention(Bucket=locked_bucket, Key="c", VersionId=v, Retention={
        "Mode": "COMPLIANCE"}), "MalformedXML", 400)
    fails(lambda: s3.put_object_retention(Bucket=locked_bucket, Key="missing", Retention={
        "Mode": "COMPLIANCE", "RetainUntilDate": later(1)}), "NoSuchKey", 404)


def test_legal_hold(s3: Any, locked_bucket: str) -> None:
    v = s3.put_object(Bucket=locked_bucket, Key="h", Body=b"h")["VersionId"]
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="h", VersionId=v, LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=locked_bucket, Key="h", VersionId=v)["LegalHold"] == {"Status": "ON"}
    assert s3.head_object(Bucket=locked_bucket, Key="h")["ObjectLockLegalHoldStatus"] == "ON"
    fails(lambda: s3.delete_object(Bucket=locked_bucket, Key="h", VersionId=v, BypassGovernanceRetention=True),
          "AccessDenied", 403)
    fails(lambda: s3.put_object_legal_hold(Bucket=locked_bucket, Key="h", VersionId=v, LegalHold={"Status": "NO"}),
          "MalformedXML", 400)
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="h", VersionId=v, LegalHold={"Status": "OFF"})
    fails(lambda: s3.get_object_legal_hold(Bucket=locked_bucket, Key="h"), "NoSuchObjectLockConfiguration", 404)
    s3.delete_object(Bucket=locked_bucket, Key="h", VersionId=v)
    fails(lambda: s3.head_object(Bucket=locked_bucket, Key="h", VersionId=v), "404", 404)


def test_other_user(s3: Any, other_s3: Any, other_user: Client, locked_bucket: str) -> None:
    v = s3.put_object(Bucket=locked_bucket, Key="o", Body=b"o", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=later(2))["VersionId"]
    fails(lambda: other_s3.get_object_retention(Bucket=locked_bucket, Key="o"), "AccessDenied", 403)
    fails(lambda: other_s3.get_object_legal_hold(Bucket=locked_bucket, Key="o"), "AccessDenied", 403)
    fails(lambda: other_s3.put_object_legal_hold(Bucket=locked_bucket, Key="o", LegalHold={"Status": "OFF"}),
          "AccessDenied", 403)
    fails(lambda: other_s3.put_object_retention(Bucket=locked_bucket, Key="o", Retention={},
                                                BypassGovernanceRetention=True), "AccessDenied", 403)
    fails(lambda: other_s3.get_object_retention(Bucket=locked_bucket + "-gone", Key="o"), "NoSuchBucket", 404)
    # Allowed to delete and to change retention, but not to bypass governance: still refused.
    other_id = other_user.identity.me()["id"]

    def allow(*actions: str) -> None:
        s3.put_bucket_policy(Bucket=locked_bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": other_id}, "Action": list(actions),
            "Resource": f"arn:aws:s3:::{locked_bucket}/*"}]}))

    allow("s3:DeleteObject", "s3:PutObjectRetention", "s3:GetObjectRetention")
    assert other_s3.get_object_retention(Bucket=locked_bucket, Key="o")["Retention"]["Mode"] == "GOVERNANCE"
    fails(lambda: other_s3.delete_object(Bucket=locked_bucket, Key="o", VersionId=v, BypassGovernanceRetention=True),
          "AccessDenied", 403)
    fails(lambda: other_s3.put_object_retention(Bucket=locked_bucket, Key="o", VersionId=v, Retention={},
                                                BypassGovernanceRetention=True), "AccessDenied", 403)
    allow("s3:DeleteObject", "s3:PutObjectRetention", "s3:BypassGovernanceRetention")
    other_s3.delete_object(Bucket=locked_bucket, Key="o", VersionId=v, BypassGovernanceRetention=True)
    fails(lambda: s3.head_object(Bucket=locked_bucket, Key="o", VersionId=v), "404", 404)


def test_lifecycle_keeps_locked_versions(s3: Any, server: LiveServer, locked_bucket: str) -> None:
    held = s3.put_object(Bucket=locked_bucket, Key="l", Body=b"1", ObjectLockLegalHoldStatus="ON")["VersionId"]
    free = s3.put_object(Bucket=locked_bucket, Key="l", Body=b"2")["VersionId"]
    s3.put_object(Bucket=locked_bucket, Key="l", Body=b"3")
    s3.put_bucket_lifecycle_configuration(Bucket=locked_bucket, LifecycleConfiguration={"Rules": [{
        "ID": "old", "Status": "Enabled", "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
    apply(server, locked_bucket, 10)
    left = [x["VersionId"] for x in s3.list_object_versions(Bucket=locked_bucket)["Versions"]]
    assert held in left and free not in left and len(left) == 2


def test_create_bucket_header_validation(s3: Any, bucket_name: Callable[[], str]) -> None:
    name = bucket_name()
    client = s3

    def bad_header(request: Any, **_: Any) -> None:
        request.headers["x-amz-bucket-object-lock-enabled"] = "maybe"

    client.meta.events.register("before-sign.s3.CreateBucket", bad_header)
    try:
        fails(lambda: client.create_bucket(Bucket=name), "InvalidArgument", 400)
    finally:
        client.meta.events.unregister("before-sign.s3.CreateBucket", bad_header)
    fails(lambda: s3.head_bucket(Bucket=name), "404", 404)



def test_multipart_upload_takes_its_lock(s3: Any, locked_bucket: str, bucket: str) -> None:
    until = later(2)
    upload = s3.create_multipart_upload(Bucket=locked_bucket, Key="m", ObjectLockMode="GOVERNANCE",
                                        ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")
    part = s3.upload_part(Bucket=locked_bucket, Key="m", UploadId=upload["UploadId"], PartNumber=1, Body=b"part")
    done = s3.complete_multipart_upload(Bucket=locked_bucket, Key="m", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    head = s3.head_object(Bucket=locked_bucket, Key="m")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == \
        ("GOVERNANCE", until, "ON")
    assert "lock" not in head["Metadata"]
    fails(lambda: s3.delete_object(Bucket=locked_bucket, Key="m", VersionId=done["VersionId"]), "AccessDenied", 403)
    fails(lambda: s3.create_multipart_upload(Bucket=bucket, Key="m", ObjectLockLegalHoldStatus="ON"),
          "InvalidRequest", 400)
    fails(lambda: s3.create_multipart_upload(Bucket=locked_bucket, Key="m", ObjectLockMode="GOVERNANCE"),
          "InvalidArgument", 400)


def test_migration_adds_and_removes_the_lock_columns(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url)
    cfg = migrate.alembic_config(url)
    engine = create_engine(cfg.attributes["sync_url"])

    def columns(table: str) -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns(table)}

    assert {"lock_mode", "lock_until", "legal_hold"} <= columns("storage_objects")
    assert "object_lock" in columns("storage_buckets")
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "storage_0004")
        conn.commit()
    assert not {"lock_mode", "lock_until", "legal_hold"} & columns("storage_objects")
    assert "object_lock" not in columns("storage_buckets")
    migrate.upgrade(url)
    assert "legal_hold" in columns("storage_objects")
    engine.dispose()


def test_lock_headers_are_shown_only_to_readers_allowed_to_see_the_lock(s3: Any, other_s3: Any, other_user: Client,
                                                                         locked_bucket: str) -> None:
    """S3 gives a reader the retention headers only with s3:GetObjectRetention and the legal hold
    only with s3:GetObjectLegalHold: reading the object is not enough."""
    until = later(2)
    s3.put_object(Bucket=locked_bucket, Key="seen", Body=b"s", ObjectLockMode="GOVERNANCE",
                  ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")
    own = s3.head_object(Bucket=locked_bucket, Key="seen")
    assert (own["ObjectLockMode"], own["ObjectLockRetainUntilDate"], own["ObjectLockLegalHoldStatus"]) == \
        ("GOVERNANCE", until, "ON")
    other_id = other_user.identity.me()["id"]

    def allow(*actions: str) -> None:
        s3.put_bucket_policy(Bucket=locked_bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": other_id}, "Action": list(actions),
            "Resource": f"arn:aws:s3:::{locked_bucket}/*"}]}))

    lock_fields = ("ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus")
    allow("s3:GetObject")
    for answer in (other_s3.head_object(Bucket=locked_bucket, Key="seen"),
                   other_s3.get_object(Bucket=locked_bucket, Key="seen")):
        assert not set(lock_fields) & set(answer)
    allow("s3:GetObject", "s3:GetObjectRetention")
    got = other_s3.get_object(Bucket=locked_bucket, Key="seen")
    assert (got["ObjectLockMode"], "ObjectLockLegalHoldStatus" in got) == ("GOVERNANCE", False)
    allow("s3:GetObject", "s3:GetObjectLegalHold")
    head = other_s3.head_object(Bucket=locked_bucket, Key="seen")
    assert (head["ObjectLockLegalHoldStatus"], "ObjectLockMode" in head) == ("ON", False)
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="seen", LegalHold={"Status": "OFF"})


def test_another_writer_needs_the_lock_permissions_to_lock_what_it_writes(s3: Any, other_s3: Any,
                                                                          other_user: Client,
                                                                          locked_bucket: str) -> None:
    """A writer the bucket policy lets PutObject may not set a retention without
    s3:PutObjectRetention, nor a legal hold without s3:PutObjectLegalHold (S3's rule)."""
    other_id = other_user.identity.me()["id"]

    def allow(*actions: str) -> None:
        s3.put_bucket_policy(Bucket=locked_bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": other_id}, "Action": list(actions),
            "Resource": f"arn:aws:s3:::{locked_bucket}/*"}]}))

    retention = {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": later(1)}
    allow("s3:PutObject")
    fails(lambda: other_s3.put_object(Bucket=locked_bucket, Key="w", Body=b"w", ChecksumAlgorithm="SHA256",
                                      **retention), "AccessDenied", 403)
    fails(lambda: other_s3.put_object(Bucket=locked_bucket, Key="w", Body=b"w", ChecksumAlgorithm="SHA256",
                                      ObjectLockLegalHoldStatus="ON"), "AccessDenied", 403)
    assert "Versions" not in s3.list_object_versions(Bucket=locked_bucket)  # nothing written
    allow("s3:PutObject", "s3:PutObjectRetention")
    other_s3.put_object(Bucket=locked_bucket, Key="w", Body=b"w", ChecksumAlgorithm="SHA256", **retention)
    assert s3.head_object(Bucket=locked_bucket, Key="w")["ObjectLockMode"] == "GOVERNANCE"
