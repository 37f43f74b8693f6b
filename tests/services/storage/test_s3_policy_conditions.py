"""Issue 14 point 12: bucket policy conditions (IAM operators with IfExists and ForAnyValue/
ForAllValues, aws:* and s3:* keys), principals naming users, NotAction, and policies once refused as
malformed; seen by another user and anonymous callers, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from cumulo.testing.server import LiveServer


def policy(bucket: str, *statements: dict[str, Any]) -> str:
    out = []
    for st in statements:
        resource = st.pop("resource", f"arn:aws:s3:::{bucket}/*")
        out.append({"Effect": "Allow", "Principal": "*", "Resource": resource, **st})
    return json.dumps({"Version": "2012-10-17", "Statement": out})


def denied(call: Any) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


@pytest.fixture
def anon(server: LiveServer) -> Any:
    with httpx.Client(base_url=server.s3_url) as client:
        yield client


def test_source_ip_secure_transport_and_time(s3: Any, other_s3: Any, bucket: str, anon: Any) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, {
        "Action": "s3:GetObject", "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.0/8"]}}}))
    assert anon.get(f"/{bucket}/k").content == b"v"  # the tests connect from 127.0.0.1
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False  # restricted
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, {
        "Action": "s3:GetObject", "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}))
    assert anon.get(f"/{bucket}/k").status_code == 403
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        bucket, {"Action": "s3:GetObject"},
        {"Effect": "Deny", "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
    assert anon.get(f"/{bucket}/k").status_code == 403  # plain HTTP is refused to everyone but the owner
    denied(lambda: other_s3.get_object(Bucket=bucket, Key="k"))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, {
        "Action": "s3:GetObject", "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"},
                                                "DateLessThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}}}))
    assert anon.get(f"/{bucket}/k").status_code == 200
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, {
        "Action": "s3:GetObject", "Condition": {"DateLessThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}}}))
    assert anon.get(f"/{bucket}/k").status_code == 403


def test_listing_conditions_with_if_exists(s3: Any, bucket: str, anon: Any) -> None:
    s3.put_object(Bucket=bucket, Key="public/a", Body=b"a")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, {
        "Action": "s3:ListBucket", "resource": f"arn:aws:s3:::{bucket}",
        "Condition": {"StringLike": {"s3:prefix": ["public/*"]}}}))
    assert b"<Key>public/a</Key>" in anon.get(f"/{bucket}?list-type=2&prefix=public/").content
    assert anon.get(f"/{bucket}?list-type=2").status_code == 403  # no prefix: the key is absent
    assert anon.get(f"/{bucket}?list-type=2&prefix=private/").status_code == 403
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, {
        "Action": "s3:ListBucket", "resource": f"arn:aws:s3:::{bucket}",
        "Condition": {"StringEqualsIfExists": {"s3:delimiter": "/"}, "NumericLessThanEquals": {"s3:max-keys": "10"}}}))
    assert anon.get(f"/{bucket}?list-type=2&max-keys=5").status_code == 200
    assert anon.get(f"/{bucket}?list-type=2&max-keys=5&delimiter=/").status_code == 200
    assert anon.get(f"/{bucket}?list-type=2&max-keys=5&delimiter=-").status_code == 403
    assert anon.get(f"/{bucket}?list-type=2&max-keys=50").status_code == 403


def test_object_tag_conditions(s3: Any, other_s3: Any, bucket: str, anon: Any) -> None:
    s3.put_object(Bucket=bucket, Key="shown", Body=b"s", Tagging="visibility=public")
    s3.put_object(Bucket=bucket, Key="hidden", Body=b"h", Tagging="visibility=private")
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})  # tags count even with ACLs off
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        bucket,
        {"Action": "s3:GetObject", "Condition": {"StringEquals": {"s3:ExistingObjectTag/visibility": "public"}}},
        {"Action": "s3:PutObject", "Condition": {"StringEquals": {"s3:RequestObjectTag/team": "web"},
                                                 "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["team"]}}}))
    assert anon.get(f"/{bucket}/shown").content == b"s"
    assert anon.get(f"/{bucket}/hidden").status_code == 403
    assert anon.get(f"/{bucket}/missing").status_code == 403
    other_s3.put_object(Bucket=bucket, Key="by-other", Body=b"o", Tagging="team=web")
    denied(lambda: other_s3.put_object(Bucket=bucket, Key="untagged", Body=b"o"))
    denied(lambda: other_s3.put_object(Bucket=bucket, Key="wrong", Body=b"o", Tagging="team=db"))
    denied(lambda: other_s3.put_object(Bucket=bucket, Key="extra", Body=b"o", Tagging="team=web&cost=1"))
    assert s3.get_object(Bucket=bucket, Key="by-other")["Body"].read() == b"o"


def test_principals_not_action_and_validation(s3: Any, other_s3: Any, bucket: str, anon: Any) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    other = other_s3.list_buckets()["Owner"]["ID"]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"}, "Action": "*",
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
        {"Effect": "Deny", "Principal": {"AWS": [other]}, "NotAction": ["s3:GetObject", "s3:ListBucket"],
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    assert other_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    assert [o["Key"] for o in other_s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    denied(lambda: other_s3.put_object(Bucket=bucket, Key="x", Body=b"x"))  # the NotAction Deny
    assert anon.get(f"/{bucket}/k").status_code == 403  # only that user was named
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    for bad in ({"Condition": {"StringSmells": {"s3:prefix": "x"}}}, {"Condition": {"StringLike": "x"}},
                {"Condition": {"Sometimes:StringLike": {"s3:prefix": "x"}}}):
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, {"Action": "s3:GetObject", **bad}))
        assert exc.value.response["Error"]["Code"] == "MalformedPolicy"
