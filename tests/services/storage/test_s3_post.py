"""Issue 14 point 3: browser POST uploads (``generate_presigned_post`` and hand-made V4 policies sent
as plain multipart/form-data): the variants S3 accepts and the policy violations it refuses, on
SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from cumulo.testing.server import LiveServer
from tests.services.storage.conftest import s3_client


def post(url: str, fields: dict[str, str], name: str = "f.txt", body: bytes = b"form bytes",
         content_type: str | None = "text/plain") -> httpx.Response:
    if content_type is None:  # a file part without Content-Type (httpx would guess one)
        return httpx.post(url, content=_raw_form(fields, name, body), headers={
            "Content-Type": "multipart/form-data; boundary=xXbOuNdArYXx"})
    return httpx.post(url, data=fields, files={"file": (name, body, content_type)}, follow_redirects=False)


def _raw_form(fields: dict[str, str], name: str, body: bytes) -> bytes:
    out = b""
    for key, value in fields.items():
        out += f'--xXbOuNdArYXx\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
    out += f'--xXbOuNdArYXx\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode()
    return out + body + b"\r\n--xXbOuNdArYXx--\r\n"


def signed_fields(creds: dict[str, Any], conditions: list[Any], *, expires_in: int = 300,
                  policy: dict[str, Any] | None = None) -> dict[str, str]:
    """A V4 policy signed by hand, for policies boto3 would not write."""
    now = dt.datetime.now(dt.UTC)
    date, stamp = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{creds['access_key_id']}/{date}/us-east-1/s3/aws4_request"
    doc = policy if policy is not None else {
        "expiration": (now + dt.timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conditions": [*conditions, {"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-credential": credential},
                       {"x-amz-date": stamp}]}
    encoded = base64.b64encode(json.dumps(doc).encode()).decode()
    key = ("AWS4" + creds["secret_access_key"]).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return {"policy": encoded, "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-credential": credential,
            "x-amz-date": stamp, "x-amz-signature": hmac.new(key, encoded.encode(), hashlib.sha256).hexdigest()}


def error_code(response: httpx.Response) -> str:
    return response.content.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0].decode()


@pytest.fixture
def s3v4(server: LiveServer, creds: dict[str, Any]) -> Any:
    return s3_client(server, creds, signature_version="s3v4")


def test_post_upload_variants(server: LiveServer, s3v4: Any, bucket: str) -> None:
    s3 = s3v4
    created = s3.generate_presigned_post(
        bucket, "up/${filename}", ExpiresIn=300,
        Fields={"success_action_status": "201", "x-amz-meta-owner": "ann", "acl": "public-read"},
        Conditions=[{"success_action_status": "201"}, ["starts-with", "$x-amz-meta-owner", ""], {"acl": "public-read"},
                    ["starts-with", "$Content-Type", ""]])
    answer = post(created["url"], created["fields"], name="photo.jpg", content_type="image/jpeg")
    assert answer.status_code == 201, answer.text
    assert b"<Key>up/photo.jpg</Key>" in answer.content and f"<Bucket>{bucket}</Bucket>".encode() in answer.content
    head = s3.head_object(Bucket=bucket, Key="up/photo.jpg")
    assert head["Metadata"] == {"owner": "ann"} and head["ContentType"] == "image/jpeg"
    assert answer.headers["etag"] == head["ETag"]
    assert httpx.get(f"{server.s3_url}/{bucket}/up/photo.jpg").content == b"form bytes"  # acl public-read

    # Content-Type absent, a file of several read chunks, field names in any case, the tagging field.
    tagging = "<Tagging><TagSet><Tag><Key>kind</Key><Value>scan</Value></Tag></TagSet></Tagging>"
    big = s3.generate_presigned_post(bucket, "big.bin", Fields={"tagging": tagging},
                                     Conditions=[{"tagging": tagging}, ["content-length-range", 1, 4 * 2**20]])
    fields = {("KeY" if k == "key" else "Policy" if k == "policy" else k): v for k, v in big["fields"].items()}
    payload = bytes(range(256)) * (10 * 1024 + 7)  # ~2.5 MiB
    answer = post(big["url"], fields, body=payload, content_type=None)
    assert answer.status_code == 204, answer.text
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["Body"].read() == payload and got["ContentType"] in ("application/octet-stream", "binary/octet-stream")
    assert s3.get_object_tagging(Bucket=bucket, Key="big.bin")["TagSet"] == [{"Key": "kind", "Value": "scan"}]

    # success_action_redirect: 303 to the URL with bucket, key and ETag.
    target = "https://app.example.com/done?from=form"
    redirect = s3.generate_presigned_post(bucket, "r.txt", Fields={"success_action_redirect": target},
                                          Conditions=[{"success_action_redirect": target}])
    answer = post(redirect["url"], redirect["fields"])
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert location.netloc == "app.example.com" and location.path == "/done"
    query = parse_qs(location.query)
    assert query["from"] == ["form"] and query["bucket"] == [bucket] and query["key"] == ["r.txt"]
    assert query["etag"] == [s3.head_object(Bucket=bucket, Key="r.txt")["ETag"]]
    for status, expected in (("200", 200), ("404", 204)):
        form = s3.generate_presigned_post(bucket, f"s{status}", Fields={"success_action_status": status},
                                          Conditions=[{"success_action_status": status}])
        assert post(form["url"], form["fields"]).status_code == expected


def test_post_policy_violations(server: LiveServer, s3v4: Any, creds: dict[str, Any], bucket: str,
                                bucket_name: Any) -> None:
    s3 = s3v4
    url = f"{server.s3_url}/{bucket}"
    good = s3.generate_presigned_post(bucket, "k.txt", Fields={"x-amz-meta-a": "1"},
                                      Conditions=[["eq", "$x-amz-meta-a", "1"], ["content-length-range", 2, 100]])
    refused: dict[str, tuple[httpx.Response, int, str]] = {}

    def expect(what: str, response: httpx.Response, status: int, code: str) -> None:
        refused[what] = (response, status, code)

    f = good["fields"]
    expect("bad signature", post(url, {**f, "x-amz-signature": "0" * 64}), 403, "SignatureDoesNotMatch")
    expect("unknown access key", post(url, {**f, "x-amz-credential": "CMLOAAAAAAAAAAAAAAAA" +
                                            f["x-amz-credential"][20:]}), 403, "InvalidAccessKeyId")
    expect("field not matching", post(url, {**f, "x-amz-meta-a": "2"}), 403, "AccessDenied")
    expect("field not in the policy", post(url, {**f, "x-amz-meta-b": "1"}), 403, "AccessDenied")
    other = bucket_name()
    s3.create_bucket(Bucket=other)
    expect("wrong bucket", post(f"{server.s3_url}/{other}", f), 403, "AccessDenied")
    expect("too large", post(url, f, body=b"x" * 101), 400, "EntityTooLarge")
    expect("too small", post(url, f, body=b"x"), 400, "EntityTooSmall")
    expect("missing signature", post(url, {k: v for k, v in f.items() if k != "x-amz-signature"}), 400,
           "InvalidArgument")
    expired = s3.generate_presigned_post(bucket, "k.txt", ExpiresIn=-60)
    expect("expired", post(url, expired["fields"]), 403, "AccessDenied")
    no_bucket = signed_fields(creds, [{"key": "k.txt"}])
    expect("no bucket condition", post(url, {"key": "k.txt", **no_bucket}), 403, "AccessDenied")
    wrong_case = signed_fields(creds, [{"bucket": bucket}, ["StArts-WiTh", "$key", "k"]])
    expect("operator case", post(url, {"key": "k.txt", **wrong_case}), 400, "InvalidPolicyDocument")
    empty = signed_fields(creds, [{"bucket": bucket}, {}])
    expect("empty condition", post(url, {"key": "k.txt", **empty}), 400, "InvalidPolicyDocument")
    no_expiry = signed_fields(creds, [], policy={"conditions": [{"bucket": bucket}]})
    expect("no expiration", post(url, {"key": "k.txt", **no_expiry}), 400, "InvalidPolicyDocument")
    bad_date = signed_fields(creds, [], policy={"expiration": "Thu, 01 Jan 2100 00:00:00 GMT",
                                                "conditions": [{"bucket": bucket}]})
    expect("bad expiration", post(url, {"key": "k.txt", **bad_date}), 400, "InvalidPolicyDocument")
    expect("no key", post(url, {k: v for k, v in f.items() if k != "key"}), 400, "InvalidArgument")
    expect("anonymous, private bucket", post(url, {"key": "anon.txt"}), 403, "AccessDenied")
    for what, (response, status, code) in refused.items():
        assert (response.status_code, error_code(response)) == (status, code), what
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k.txt")  # nothing was stored
    assert post(url, f, body=b"just right").status_code == 204
    assert s3.get_object(Bucket=bucket, Key="k.txt")["Metadata"] == {"a": "1"}


def test_anonymous_post_into_a_public_write_bucket(server: LiveServer, s3v4: Any, bucket_name: Any) -> None:
    name = bucket_name()
    s3v4.create_bucket(Bucket=name, ACL="public-read-write")
    answer = post(f"{server.s3_url}/{name}", {"key": "drop/${filename}", "Content-Type": "text/plain"},
                  name="note.txt")
    assert answer.status_code == 204, answer.text
    assert s3v4.get_object(Bucket=name, Key="drop/note.txt")["Body"].read() == b"form bytes"
    s3v4.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    refused = post(f"{server.s3_url}/{name}", {"key": "again.txt"})
    assert refused.status_code == 403 and error_code(refused) == "AccessDenied"


def test_post_upload_with_object_lock_fields(s3v4: Any, bucket_name: Any, bucket: str) -> None:
    locked = bucket_name()
    s3v4.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(microsecond=0)
    lock = {"x-amz-object-lock-mode": "GOVERNANCE",
            "x-amz-object-lock-retain-until-date": until.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-amz-object-lock-legal-hold": "ON"}
    form = s3v4.generate_presigned_post(locked, "kept.txt", Fields=lock, Conditions=[{k: v} for k, v in lock.items()])
    answer = post(form["url"], form["fields"])
    assert answer.status_code == 204, answer.text
    head = s3v4.head_object(Bucket=locked, Key="kept.txt")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == \
        ("GOVERNANCE", until, "ON")
    with pytest.raises(ClientError) as exc:  # locked: a version delete is refused
        s3v4.delete_object(Bucket=locked, Key="kept.txt", VersionId=head["VersionId"])
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    s3v4.put_object_legal_hold(Bucket=locked, Key="kept.txt", LegalHold={"Status": "OFF"})
    # the same fields on a bucket without Object Lock, or only half of a retention: refused, nothing written
    plain = s3v4.generate_presigned_post(bucket, "plain.txt", Fields=lock, Conditions=[{k: v} for k, v in lock.items()])
    refused = post(plain["url"], plain["fields"])
    assert (refused.status_code, error_code(refused)) == (400, "InvalidRequest")
    half = {"x-amz-object-lock-mode": "GOVERNANCE"}
    form = s3v4.generate_presigned_post(locked, "half.txt", Fields=half, Conditions=[half])
    refused = post(form["url"], form["fields"])
    assert (refused.status_code, error_code(refused)) == (400, "InvalidArgument")
    for key, where in (("plain.txt", bucket), ("half.txt", locked)):
        with pytest.raises(ClientError):
            s3v4.head_object(Bucket=where, Key=key)
