"""Bucket settings over the S3 port: CORS (with browser preflight), tagging, ACL reads, refused sub-resources."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError


def test_cors_rules_answer_preflight_and_requests(server: Any, s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["GET", "PUT"],
        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]})
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://app.example.com"] and rules[0]["AllowedMethods"] == ["GET", "PUT"]
    ok = httpx.options(f"{server.s3_url}/{bucket}/file.txt", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "PUT" in ok.headers["access-control-allow-methods"] and ok.headers["access-control-max-age"] == "600"
    denied = httpx.options(f"{server.s3_url}/{bucket}/file.txt", headers={
        "Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"})
    assert denied.status_code == 403
    s3.put_object(Bucket=bucket, Key="file.txt", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "file.txt"})
    got = httpx.get(url, headers={"Origin": "https://app.example.com"})
    assert got.headers["access-control-allow-origin"] == "https://app.example.com"
    assert got.headers["access-control-expose-headers"] == "ETag"
    s3.delete_bucket_cors(Bucket=bucket)
    assert httpx.options(f"{server.s3_url}/{bucket}/file.txt", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}).status_code == 403


def test_bucket_tagging_acl_and_unsupported_subresources(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "storage"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "storage"}]
    s3.delete_bucket_tagging(Bucket=bucket)
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Grants"][0]["Permission"] == "FULL_CONTROL"
    s3.put_object(Bucket=bucket, Key="k", Body=b"body")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"body"  # not overwritten by the ACL body
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_website(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NotImplemented"
