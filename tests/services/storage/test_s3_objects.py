"""The S3 port driven by boto3: buckets, put/get/head/list/copy/delete, ranges, conditions, metadata."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]  # type: ignore[no-any-return]


def test_put_get_head_delete_round_trip(s3: Any, bucket: str) -> None:
    body = b"hello cumulo " * 1000
    put = s3.put_object(Bucket=bucket, Key="dir/hello.txt", Body=body, ContentType="text/plain",
                        Metadata={"colour": "blue"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/hello.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"colour": "blue"}
    assert got["ContentLength"] == len(body)
    head = s3.head_object(Bucket=bucket, Key="dir/hello.txt")
    assert head["ETag"] == put["ETag"] and head["ContentLength"] == len(body)
    s3.delete_object(Bucket=bucket, Key="dir/hello.txt")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="dir/hello.txt")
    assert code(exc) == "NoSuchKey"


def test_buckets_create_list_head_delete_and_name_rules(s3: Any, bucket_name: Any) -> None:
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert code(exc) == "BucketAlreadyOwnedByYou"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] in (None, "")
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert code(exc) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    for bad in ("UPPER", "a..b", "192.168.1.1", "xn--abc", "ab", "buckets"):
        with pytest.raises(ClientError) as exc:
            s3.create_bucket(Bucket=bad)
        assert code(exc) == "InvalidBucketName", bad


def test_list_objects_v2_prefix_delimiter_pagination(s3: Any, bucket: str) -> None:
    keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/1", "d/2", "e"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    out = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [c["Key"] for c in out["Contents"]] == ["c", "e"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "b/", "d/"]
    out = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [c["Key"] for c in out["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/b/"]
    seen, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, **kwargs)
        seen += [c["Key"] for c in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys)
    # Pagination through common prefixes as well: every entry exactly once.
    entries, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, Delimiter="/", **kwargs)
        entries += [c["Key"] for c in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert sorted(entries) == ["a/", "b/", "c", "d/", "e"]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="c")
    assert [c["Key"] for c in after["Contents"]] == ["d/1", "d/2", "e"]
    v1 = s3.list_objects(Bucket=bucket, Prefix="d/")
    assert [c["Key"] for c in v1["Contents"]] == ["d/1", "d/2"]
    v1 = s3.list_objects(Bucket=bucket, MaxKeys=2, Delimiter="/")
    assert v1["IsTruncated"] and v1["NextMarker"] == "b/"
    v1 = s3.list_objects(Bucket=bucket, Marker=v1["NextMarker"], Delimiter="/")
    assert [c["Key"] for c in v1["Contents"]] == ["c", "e"]


def test_url_encoding_and_odd_keys(s3: Any, bucket: str) -> None:
    odd = ["space key.txt", "plus+sign", "ünïcødé/ключ", "percent%20", "semi;colon=eq&amp", "../../etc/passwd"]
    for key in odd:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = s3.list_objects_v2(Bucket=bucket)  # botocore asks for encoding-type=url and decodes
    assert sorted(c["Key"] for c in listed["Contents"]) == sorted(odd)
    raw = s3.list_objects_v2(Bucket=bucket, EncodingType="url")  # asked for explicitly: left encoded
    assert sorted(unquote(c["Key"]) for c in raw["Contents"]) == sorted(odd)
    assert "space%20key.txt" in [c["Key"] for c in raw["Contents"]]


def test_copy_object_and_metadata_directive(s3: Any, bucket: str, bucket_name: Any) -> None:
    other = bucket_name()
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", ContentType="text/x-a", Metadata={"a": "1"})
    out = s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert out["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    got = s3.get_object(Bucket=other, Key="dst")
    assert got["Body"].read() == b"payload" and got["Metadata"] == {"a": "1"} and got["ContentType"] == "text/x-a"
    s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="text/x-b")
    got = s3.get_object(Bucket=bucket, Key="src")
    assert got["Metadata"] == {"b": "2"} and got["ContentType"] == "text/x-b" and got["Body"].read() == b"payload"
    s3.delete_object(Bucket=bucket, Key="src")  # the copy keeps its bytes
    assert s3.get_object(Bucket=other, Key="dst")["Body"].read() == b"payload"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    assert code(exc) == "NoSuchKey"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": other, "Key": "dst"}, CopySourceIfMatch='"00"')
    assert code(exc) == "PreconditionFailed"
    s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": other, "Key": "dst"},
                   CopySourceIfMatch=out["CopyObjectResult"]["ETag"])


def test_range_reads(s3: Any, bucket: str) -> None:
    body = bytes(range(256)) * 40
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert part["Body"].read() == body[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=10000-")["Body"].read() == body[10000:]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={len(body)}-")
    assert code(exc) == "InvalidRange"


def test_conditional_requests(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert code(exc) == "PreconditionFailed"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    head = s3.head_object(Bucket=bucket, Key="c")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=head["LastModified"])
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=head["LastModified"].replace(year=2000))
    assert code(exc) == "PreconditionFailed"


def test_response_overrides_and_content_md5(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"data", ContentMD5=base64.b64encode(hashlib.md5(b"data").digest()).decode())
    got = s3.get_object(Bucket=bucket, Key="o", ResponseContentType="image/png",
                        ResponseContentDisposition="attachment; filename=x.png")
    assert got["ContentType"] == "image/png" and got["ContentDisposition"] == "attachment; filename=x.png"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"data", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
    assert code(exc) == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")  # nothing half-created


def test_delete_objects_batch(s3: Any, bucket: str) -> None:
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"k{i}"} for i in range(4)] + [{"Key": "nope"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["k0", "k1", "k2", "k3", "nope"]
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k4"]


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="team=blue&env=dev")
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]}
    assert tags == {"team": "blue", "env": "dev"}
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "a", "Value": "b"}]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []


def test_interrupted_upload_leaves_nothing(server: Any, s3: Any, creds: dict[str, Any], bucket: str) -> None:
    """A client that dies mid-body: no object appears, and its temporary file is removed."""
    import socket
    import time
    from pathlib import Path
    from urllib.parse import urlsplit

    s3.put_object(Bucket=bucket, Key="keep", Body=b"old bytes")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "keep"}, ExpiresIn=300)
    parts = urlsplit(url)
    tmp = Path(server.settings.data_dir) / "storage" / "tmp"

    def writing() -> bool:
        return tmp.is_dir() and any(tmp.iterdir())

    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                     f"Content-Length: {8 * 1024 * 1024}\r\n\r\n".encode() + os.urandom(3 * 1024 * 1024))
        # the client dies only once the server is writing the body (else, under load, the check below
        # could run before the server has even made its temporary file)
        deadline = time.monotonic() + 30
        while not writing() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writing(), "the server never started writing the body"
    deadline = time.monotonic() + 30
    while writing() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not writing()
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"old bytes"  # the old object is intact


def test_concurrent_overwrites_are_atomic_for_readers(s3: Any, bucket: str) -> None:
    """Writers race on one key while readers read it: every read is one complete version."""
    import threading

    payloads = [bytes([i]) * (300 * 1024 + i) for i in range(4)]  # above the one-piece read size: streamed
    s3.put_object(Bucket=bucket, Key="hot", Body=payloads[0])
    seen: list[bytes] = []
    errors: list[BaseException] = []

    def write(data: bytes) -> None:
        try:
            for _ in range(5):
                s3.put_object(Bucket=bucket, Key="hot", Body=data)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(10):
                seen.append(s3.get_object(Bucket=bucket, Key="hot")["Body"].read())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads] + \
        [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(seen) == 40 and all(body in payloads for body in seen)
    versions = s3.list_object_versions(Bucket=bucket, Prefix="hot")["Versions"]
    assert len(versions) == 1 and versions[0]["IsLatest"]  # unversioned: exactly one row survives


def test_orphan_blobs_are_swept_and_referenced_ones_kept(server: Any, s3: Any, bucket: str) -> None:
    import time
    from pathlib import Path

    from cumulo.services.storage.reconciler import remove_orphans

    s3.put_object(Bucket=bucket, Key="kept", Body=b"referenced bytes")
    root = Path(server.settings.data_dir) / "storage" / "blobs"
    orphan = root / "ff" / "ee" / ("ffee" + "0" * 28)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crash")
    fresh_orphan = root / "ff" / "ee" / ("ffee" + "1" * 28)
    fresh_orphan.write_bytes(b"a write still in flight")
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    for path in root.rglob("*"):
        if path.is_file() and path != fresh_orphan:
            os.utime(path, (old, old))  # everything else looks old too: only references protect it
    removed = server.call(remove_orphans(server.platform))
    assert removed >= 1 and not orphan.exists() and fresh_orphan.exists()
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"referenced bytes"
    fresh_orphan.unlink()


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_every_checksum_algorithm_is_verified(s3: Any, bucket: str, algorithm: str) -> None:
    """boto3 computes the checksum itself (ChecksumAlgorithm) or is handed a wrong one."""
    from cumulo.drivers.blob import checksums

    data = os.urandom(300_000)
    s3.put_object(Bucket=bucket, Key=f"ok-{algorithm}", Body=data, ChecksumAlgorithm=algorithm)
    assert s3.get_object(Bucket=bucket, Key=f"ok-{algorithm}")["Body"].read() == data
    good = checksums.of(algorithm.lower(), data)
    s3.put_object(Bucket=bucket, Key=f"given-{algorithm}", Body=data, **{f"Checksum{algorithm}": good})
    wrong = checksums.of(algorithm.lower(), data + b"x")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key=f"bad-{algorithm}", Body=data, **{f"Checksum{algorithm}": wrong})
    assert code(exc) == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key=f"bad-{algorithm}")  # nothing half-created
