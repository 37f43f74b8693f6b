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


def _crc64nvme(data: bytes) -> str:
    from awscrt import checksums as crt
    return b64(crt.crc64nvme(data).to_bytes(8, "big"))


def _crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def _upload_parts(s3: Any, bucket: str, key: str, upload: str, algorithm: str, bodies: list[bytes]) -> list[dict]:
    parts = []
    for number, body in enumerate(bodies, start=1):
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body,
                                ChecksumAlgorithm=algorithm)
        parts.append({"PartNumber": number, "ETag": answer["ETag"], f"Checksum{algorithm}": answer[f"Checksum{algorithm}"]})
    return parts


@pytest.mark.parametrize(("algorithm", "crc", "asked"), [("CRC64NVME", _crc64nvme, None),
                                                          ("CRC32", _crc32, "FULL_OBJECT")])
def test_multipart_full_object_checksum_is_the_crc_of_the_whole_body(s3: Any, bucket: str, algorithm: str,
                                                                      crc: Any, asked: str | None) -> None:
    """CRC64NVME uploads (always) and CRC32 ones asked for FULL_OBJECT get the CRC of the whole
    object, as if it had been sent in one PUT, not a checksum of checksums."""
    extra = {"ChecksumType": asked} if asked else {}
    created = s3.create_multipart_upload(Bucket=bucket, Key="whole", ChecksumAlgorithm=algorithm, **extra)
    assert created["ChecksumType"] == "FULL_OBJECT"
    bodies = [bytes(range(256)) * (5 * 4096 + 1), b"second part, the same size " * 194200, b"the last, short"]
    whole = b"".join(bodies)
    parts = _upload_parts(s3, bucket, "whole", created["UploadId"], algorithm, bodies)
    for wrong in ({f"Checksum{algorithm}": crc(whole + b"!")}, {"MpuObjectSize": len(whole) + 1},
                  {"ChecksumType": "COMPOSITE"}):
        with pytest.raises(ClientError) as exc:
            s3.complete_multipart_upload(Bucket=bucket, Key="whole", UploadId=created["UploadId"],
                                         MultipartUpload={"Parts": parts}, **wrong)
        assert exc.value.response["Error"]["Code"] in ("BadDigest", "InvalidRequest"), wrong
    done = s3.complete_multipart_upload(Bucket=bucket, Key="whole", UploadId=created["UploadId"],
                                        MultipartUpload={"Parts": parts}, MpuObjectSize=len(whole),
                                        **{f"Checksum{algorithm}": crc(whole)})
    assert done[f"Checksum{algorithm}"] == crc(whole) and done["ChecksumType"] == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket, Key="whole", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == crc(whole) and head["ChecksumType"] == "FULL_OBJECT"
    attrs = s3.get_object_attributes(Bucket=bucket, Key="whole", ObjectAttributes=["Checksum", "ObjectParts"])
    assert attrs["Checksum"] == {f"Checksum{algorithm}": crc(whole), "ChecksumType": "FULL_OBJECT"}
    assert attrs["ObjectParts"]["TotalPartsCount"] == 3
    assert s3.get_object(Bucket=bucket, Key="whole")["Body"].read() == whole


@pytest.mark.parametrize(("algorithm", "kind"), [("CRC64NVME", "COMPOSITE"), ("SHA256", "FULL_OBJECT"),
                                                 ("SHA1", "FULL_OBJECT"), ("CRC32", "SOMETHING")])
def test_a_checksum_type_the_algorithm_cannot_give_is_refused(s3: Any, bucket: str, algorithm: str,
                                                              kind: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=bucket, Key="no", ChecksumAlgorithm=algorithm, ChecksumType=kind)
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)  # nothing half-created


def test_a_checksum_type_without_an_algorithm_is_refused(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=bucket, Key="no", ChecksumType="FULL_OBJECT")
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"


def test_crc32_multipart_stays_composite_unless_asked(s3: Any, bucket: str) -> None:
    created = s3.create_multipart_upload(Bucket=bucket, Key="comp", ChecksumAlgorithm="CRC32")
    assert created["ChecksumType"] == "COMPOSITE"
    bodies = [b"x" * (5 * 1024 * 1024), b"y"]
    parts = _upload_parts(s3, bucket, "comp", created["UploadId"], "CRC32", bodies)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="comp", UploadId=created["UploadId"],
                                        MultipartUpload={"Parts": parts})
    inner = b"".join(zlib.crc32(b).to_bytes(4, "big") for b in bodies)
    assert done["ChecksumCRC32"] == _crc32(inner) + "-2" and done["ChecksumType"] == "COMPOSITE"


def test_combining_crcs_equals_the_crc_of_the_concatenation() -> None:
    import os

    from cumulo.drivers.blob import checksums
    for algorithm in checksums.FULL_OBJECT:
        for first, second in ((0, 7), (7, 0), (1, 1), (4096, 3), (65537, 100_003)):
            a, b = os.urandom(first), os.urandom(second)
            assert checksums.combine(algorithm, checksums.of(algorithm, a), checksums.of(algorithm, b),
                                     second) == checksums.of(algorithm, a + b)
