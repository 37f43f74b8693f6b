"""Issue 14 point 8: x-amz-checksum-* kept with the object and given back (HEAD/GET with
ChecksumMode, GetObjectAttributes, listings), per-part checksums of multipart uploads (UploadPart,
ListParts, CompleteMultipartUpload) and the composite checksum, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

ALGORITHMS = ["CRC32", "CRC32C", "SHA1", "SHA256"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sha256(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_object_checksum_is_kept_and_returned(s3: Any, bucket: str, algorithm: str) -> None:
    body = b"checksummed body " * 100
    put = s3.put_object(Bucket=bucket, Key="obj", Body=body, ChecksumAlgorithm=algorithm)
    value = put[f"Checksum{algorithm}"]
    if algorithm == "SHA256":
        assert value == sha256(body)
    if algorithm == "CRC32":
        assert value == b64(zlib.crc32(body).to_bytes(4, "big"))
    head = s3.head_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == value and head["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == value and got["Body"].read() == body
    assert f"Checksum{algorithm}" not in s3.head_object(Bucket=bucket, Key="obj")  # only when asked
    ranged = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=0-9", ChecksumMode="ENABLED")
    assert f"Checksum{algorithm}" not in ranged and ranged["Body"].read() == body[:10]
    attrs = s3.get_object_attributes(Bucket=bucket, Key="obj", ObjectAttributes=["Checksum", "ObjectSize"])
    assert attrs["Checksum"] == {f"Checksum{algorithm}": value, "ChecksumType": "FULL_OBJECT"}
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["ChecksumAlgorithm"] == [algorithm]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.list_object_versions(Bucket=bucket)["Versions"][0]["ChecksumAlgorithm"] == [algorithm]
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "obj"})
    assert s3.head_object(Bucket=bucket, Key="copy", ChecksumMode="ENABLED")[f"Checksum{algorithm}"] == value


def test_wrong_checksum_is_refused(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"abc", ChecksumSHA256=sha256(b"abd"))
    assert exc.value.response["Error"]["Code"] == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")


def test_multipart_part_checksums_and_composite(s3: Any, bucket: str) -> None:
    created = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="SHA256")
    assert created["ChecksumAlgorithm"] == "SHA256"
    upload = created["UploadId"]
    bodies = [b"a" * (5 * 1024 * 1024), b"tail bytes"]
    parts = []
    for number, body in enumerate(bodies, start=1):
        answer = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=number, Body=body,
                                ChecksumAlgorithm="SHA256")
        assert answer["ChecksumSHA256"] == sha256(body)
        parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": answer["ChecksumSHA256"]})
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)["Parts"]
    assert [p["ChecksumSHA256"] for p in listed] == [sha256(b) for b in bodies]
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=3, Body=b"x", ChecksumAlgorithm="CRC32")
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"  # not the upload's algorithm
    wrong = [parts[0], {**parts[1], "ChecksumSHA256": sha256(b"other")}]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": wrong})
    assert exc.value.response["Error"]["Code"] == "InvalidPart"
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    composite = b64(hashlib.sha256(b"".join(hashlib.sha256(b).digest() for b in bodies)).digest()) + "-2"
    assert done["ChecksumSHA256"] == composite
    head = s3.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == composite and head["ChecksumType"] == "COMPOSITE"
    attrs = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["Checksum", "ObjectParts"])
    assert attrs["Checksum"] == {"ChecksumSHA256": composite, "ChecksumType": "COMPOSITE"}
    assert [p["ChecksumSHA256"] for p in attrs["ObjectParts"]["Parts"]] == [sha256(b) for b in bodies]
    assert s3.list_objects_v2(Bucket=bucket)["Contents"][0]["ChecksumAlgorithm"] == ["SHA256"]
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"".join(bodies)
