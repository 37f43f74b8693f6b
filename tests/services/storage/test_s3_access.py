"""Who may do what on the S3 port: signatures, presigned URLs, ownership, public-read policies,
and the body encodings SigV4 allows (signed aws-chunked, unsigned payload)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.services.storage.conftest import s3_client


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]  # type: ignore[no-any-return]


def test_wrong_secret_is_signature_does_not_match(server: Any, creds: dict[str, Any], bucket: str) -> None:
    bad = s3_client(server, {**creds, "secret_access_key": creds["secret_access_key"][::-1]})
    with pytest.raises(ClientError) as exc:
        bad.list_objects_v2(Bucket=bucket)
    assert code(exc) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as exc:
        bad.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert code(exc) == "SignatureDoesNotMatch"
    unknown = s3_client(server, {**creds, "access_key_id": "CMLOAAAAAAAAAAAAAAAA"})
    with pytest.raises(ClientError) as exc:
        unknown.list_buckets()
    assert code(exc) == "InvalidAccessKeyId"


def test_other_users_bucket_is_access_denied(s3: Any, other_s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"mine")
    for call in (lambda: other_s3.get_object(Bucket=bucket, Key="secret.txt"),
                 lambda: other_s3.list_objects_v2(Bucket=bucket),
                 lambda: other_s3.put_object(Bucket=bucket, Key="x", Body=b"theirs"),
                 lambda: other_s3.delete_object(Bucket=bucket, Key="secret.txt"),
                 lambda: other_s3.delete_bucket(Bucket=bucket),
                 lambda: other_s3.put_bucket_policy(Bucket=bucket, Policy="{}")):
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        other_s3.create_bucket(Bucket=bucket)
    assert code(exc) == "BucketAlreadyExists"
    assert bucket not in [b["Name"] for b in other_s3.list_buckets()["Buckets"]]
    assert s3.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"mine"


def test_anonymous_access_needs_a_public_policy(server: Any, s3: Any, bucket: str, bucket_name: Any) -> None:
    private = bucket_name()
    s3.create_bucket(Bucket=private)
    for name in (bucket, private):
        s3.put_object(Bucket=name, Key="index.html", Body=b"<h1>hi</h1>", ContentType="text/html")
    anon = httpx.Client(base_url=server.s3_url)
    denied = anon.get(f"/{bucket}/index.html")
    assert denied.status_code == 403 and b"<Code>AccessDenied</Code>" in denied.content
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{bucket}/*"]}]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    public = anon.get(f"/{bucket}/index.html")
    assert public.status_code == 200 and public.content == b"<h1>hi</h1>"
    assert public.headers["content-type"] == "text/html"
    assert anon.get(f"/{private}/index.html").status_code == 403  # only that bucket
    assert anon.get(f"/{bucket}").status_code == 403  # listing was not granted
    assert anon.put(f"/{bucket}/new", content=b"x").status_code == 403  # nor writing
    unsigned = s3_client(server, None)
    assert unsigned.get_object(Bucket=bucket, Key="index.html")["Body"].read() == b"<h1>hi</h1>"
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy='{"Statement": [{"Effect": "Allow"}]}')
    assert code(exc) == "MalformedPolicy"
    s3.delete_bucket_policy(Bucket=bucket)
    assert anon.get(f"/{bucket}/index.html").status_code == 403


@pytest.mark.parametrize("version", ["s3", "s3v4"])  # boto3's default presigner is SigV2; s3v4 is SigV4
def test_presigned_get_and_put_with_plain_http(server: Any, creds: dict[str, Any], bucket: str,
                                               version: str) -> None:
    s3 = s3_client(server, creds, signature_version=version)
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n1,2\n")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "report.csv"}, ExpiresIn=300)
    assert ("X-Amz-Signature=" in url) == (version == "s3v4")
    got = httpx.get(url)
    assert got.status_code == 200 and got.content == b"a,b\n1,2\n"
    tampered = url.replace("report.csv", "other.csv")
    assert b"SignatureDoesNotMatch" in httpx.get(tampered).content
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "upload.bin"}, ExpiresIn=300)
    assert httpx.put(put_url, content=b"uploaded").status_code == 200
    assert s3.get_object(Bucket=bucket, Key="upload.bin")["Body"].read() == b"uploaded"
    expiring = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "report.csv"}, ExpiresIn=1)
    time.sleep(2.1)  # let it expire (the assertion is on the answer, not on timing)
    expired = httpx.get(expiring)
    assert expired.status_code == 403 and b"expired" in expired.content


def _signed(creds: dict[str, Any], method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, headers=headers)
    SigV4Auth(Credentials(creds["access_key_id"], creds["secret_access_key"]), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def _chunk_encode(data: bytes, chunk: int, key: bytes, seed: str, amz_date: str, scope: str) -> bytes:
    """aws-chunked with chunk signatures, written from the AWS documentation (not Cumulo's code)."""
    out, previous = b"", seed
    empty = hashlib.sha256(b"").hexdigest()
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for piece in pieces:
        to_sign = (f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{empty}\n"
                   f"{hashlib.sha256(piece).hexdigest()}")
        previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        out += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + piece + b"\r\n"
    return out


def _signing_key(secret: str, date: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in ("us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@pytest.mark.parametrize("tamper", [False, True])
def test_streaming_signed_aws_chunked_upload(server: Any, s3: Any, creds: dict[str, Any], bucket: str,
                                             tamper: bool) -> None:
    data = bytes(range(256)) * 1000  # 256000 bytes: 4 chunks of 64 KiB + a short one
    url = f"{server.s3_url}/{bucket}/chunked.bin"
    amz_date = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "x-amz-date": amz_date,
               "content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
               "content-type": "application/x-test"}
    signed = _signed(creds, "PUT", url, headers)
    seed = signed["Authorization"].rsplit("Signature=", 1)[1]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    body = _chunk_encode(data, 65536, _signing_key(creds["secret_access_key"], amz_date[:8]), seed, amz_date, scope)
    if tamper:
        body = body.replace(bytes(range(256)), bytes(range(1, 256)) + b"\x00", 1)
    response = httpx.put(url, content=body, headers=signed)
    if tamper:
        assert response.status_code == 403 and b"SignatureDoesNotMatch" in response.content
        with pytest.raises(ClientError):
            s3.head_object(Bucket=bucket, Key="chunked.bin")
        return
    assert response.status_code == 200, response.text
    got = s3.get_object(Bucket=bucket, Key="chunked.bin")
    assert got["Body"].read() == data
    assert got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert got["ContentType"] == "application/x-test"
    assert "ContentEncoding" not in got  # aws-chunked is transport only


def test_unsigned_payload_and_unsigned_trailer(server: Any, s3: Any, creds: dict[str, Any], bucket: str) -> None:
    url = f"{server.s3_url}/{bucket}/unsigned.txt"
    headers = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD",
               "x-amz-date": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")}
    assert httpx.put(url, content=b"plain body", headers=_signed(creds, "PUT", url, headers)).status_code == 200
    assert s3.get_object(Bucket=bucket, Key="unsigned.txt")["Body"].read() == b"plain body"
    import base64
    import zlib

    data = b"trailer checked body"
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    for value, expect in ((crc, 200), ("AAAAAA==", 400)):
        url2 = f"{server.s3_url}/{bucket}/trailer-{expect}.txt"
        headers = {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "content-encoding": "aws-chunked",
                   "x-amz-trailer": "x-amz-checksum-crc32", "x-amz-decoded-content-length": str(len(data)),
                   "x-amz-date": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")}
        body = f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n" + f"x-amz-checksum-crc32:{value}\r\n\r\n".encode()
        response = httpx.put(url2, content=body, headers=_signed(creds, "PUT", url2, headers))
        assert response.status_code == expect, response.text
    assert s3.get_object(Bucket=bucket, Key="trailer-200.txt")["Body"].read() == data
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="trailer-400.txt")


def test_virtual_hosted_style(server: Any, creds: dict[str, Any], bucket: str) -> None:
    """``<bucket>.localhost:<port>`` (CUMULO_S3_DOMAIN) names the bucket in the Host header. *.localhost
    does not resolve on every machine, so the request goes to 127.0.0.1 with that Host header."""
    port = server.s3_url.rsplit(":", 1)[1]
    host = f"{bucket}.localhost:{port}"

    def call(method: str, path: str, body: bytes = b"") -> httpx.Response:
        headers = {"host": host, "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
                   "x-amz-date": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")}
        signed = _signed(creds, method, f"http://{host}{path}", headers)
        return httpx.request(method, f"{server.s3_url}{path}", content=body, headers=signed)

    assert call("PUT", "/dir/v.txt", b"vhost").status_code == 200
    assert call("GET", "/dir/v.txt").content == b"vhost"
    listing = call("GET", "/?list-type=2")
    assert listing.status_code == 200 and b"<Key>dir/v.txt</Key>" in listing.content
    assert s3_client(server, creds).get_object(Bucket=bucket, Key="dir/v.txt")["Body"].read() == b"vhost"


def test_revoked_credentials_stop_working(server: Any, user: Any, bucket: str) -> None:
    fresh = user.storage.create_credentials("short-lived")
    client = s3_client(server, fresh)
    client.list_objects_v2(Bucket=bucket)
    listed = user.storage.credentials()
    assert fresh["access_key_id"] in [c["access_key_id"] for c in listed]
    assert all("secret_access_key" not in c for c in listed)
    user.storage.delete_credentials(fresh["id"])
    with pytest.raises(ClientError) as exc:
        client.list_objects_v2(Bucket=bucket)
    assert code(exc) == "InvalidAccessKeyId"


def test_garbage_requests_get_s3_errors_not_500(server: Any, creds: dict[str, Any], bucket: str) -> None:
    anon = httpx.Client(base_url=server.s3_url)
    for path in (f"/{bucket}/%00", f"/{bucket}?list-type=2&max-keys=-1", "/%00", f"/{bucket}/k?partNumber=x&uploadId=y",
                 f"/{bucket}?list-type=2&continuation-token=%%%"):
        response = anon.get(path)
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert response.content.startswith(b"<?xml") and b"<Code>" in response.content
    bad_auth = anon.get(f"/{bucket}", headers={"Authorization": "AWS4-HMAC-SHA256 garbage"})
    assert bad_auth.status_code == 400 and b"AuthorizationHeaderMalformed" in bad_auth.content
    signed = _signed(creds, "GET", f"{server.s3_url}/{bucket}?list-type=2&max-keys=abc",
                     {"x-amz-content-sha256": hashlib.sha256(b"").hexdigest(),
                      "x-amz-date": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")})
    response = anon.get(f"/{bucket}?list-type=2&max-keys=abc", headers=signed)
    assert response.status_code == 400 and b"InvalidArgument" in response.content
    skewed = {**_signed(creds, "GET", f"{server.s3_url}/{bucket}",
                        {"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()}), "X-Amz-Date": "20200101T000000Z"}
    response = anon.get(f"/{bucket}", headers=skewed)
    assert response.status_code == 403 and b"RequestTimeTooSkewed" in response.content


@pytest.mark.parametrize("version", ["s3", "s3v4"])
def test_browser_post_policy_upload(server: Any, creds: dict[str, Any], bucket: str, version: str) -> None:
    s3 = s3_client(server, creds, signature_version=version)
    post = s3.generate_presigned_post(bucket, "uploads/${filename}", ExpiresIn=300,
                                      Fields={"Content-Type": "text/plain"},
                                      Conditions=[{"Content-Type": "text/plain"}, ["starts-with", "$key", "uploads/"],
                                                  ["content-length-range", 1, 1000]])
    response = httpx.post(post["url"], data=post["fields"], files={"file": ("note.txt", b"posted from a form")})
    assert response.status_code == 204, response.text
    got = s3.get_object(Bucket=bucket, Key="uploads/note.txt")
    assert got["Body"].read() == b"posted from a form" and got["ContentType"] == "text/plain"
    too_big = httpx.post(post["url"], data=post["fields"], files={"file": ("big.txt", b"x" * 2000)})
    assert too_big.status_code == 400 and b"EntityTooLarge" in too_big.content
    forged = {**post["fields"], "Content-Type": "text/html"}
    assert httpx.post(post["url"], data=forged, files={"file": ("x.txt", b"x")}).status_code == 403
    sig_field = "x-amz-signature" if version == "s3v4" else "signature"
    tampered = {**post["fields"], sig_field: post["fields"][sig_field][:-2] + "00"}
    response = httpx.post(post["url"], data=tampered, files={"file": ("x.txt", b"x")})
    assert response.status_code == 403 and b"SignatureDoesNotMatch" in response.content
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="uploads/x.txt")
