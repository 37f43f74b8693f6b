"""Versioning and multipart uploads over the S3 port (boto3)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]  # type: ignore[no-any-return]


def test_versioning_keeps_every_version(s3: Any, bucket: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)["Body"].read() == b"one"
    marker = s3.delete_object(Bucket=bucket, Key="doc")
    assert marker["DeleteMarker"] is True
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="doc")
    assert code(exc) == "NoSuchKey"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == [v2, v1]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [marker["VersionId"]]
    assert listed["DeleteMarkers"][0]["IsLatest"] is True
    # Removing the delete marker brings the newest version back.
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker["VersionId"])
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=v2)
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"one"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="doc", VersionId="f" * 32)
    assert code(exc) == "NoSuchVersion"
    # Suspended: new writes replace the "null" version, older versions stay.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="doc", Body=b"three")
    s3.put_object(Bucket=bucket, Key="doc", Body=b"four")
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [v["VersionId"] for v in versions] == ["null", v1]
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"four"


def test_list_versions_pagination(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    expected = []
    for key in ("a", "b"):
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=str(i).encode())["VersionId"] for i in range(3)]
        expected += [(key, v) for v in reversed(ids)]
    seen: list[tuple[str, str]] = []
    kwargs: dict[str, str] = {}
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=4, **kwargs)
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert seen == expected


def test_multipart_upload_of_three_parts(s3: Any, bucket: str) -> None:
    parts_data = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(123)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin", ContentType="application/x-big",
                                        Metadata={"origin": "test"})
    uid = upload["UploadId"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [uid]
    parts = []
    for number, data in enumerate(parts_data, start=1):
        etag = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=uid, PartNumber=number, Body=data)["ETag"]
        assert etag == f'"{hashlib.md5(data).hexdigest()}"'
        parts.append({"PartNumber": number, "ETag": etag})
    listed = s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=uid)
    assert [p["Size"] for p in listed["Parts"]] == [len(d) for d in parts_data]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=uid,
                                     MultipartUpload={"Parts": list(reversed(parts))})
    assert code(exc) == "InvalidPartOrder"
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=uid, MultipartUpload={
            "Parts": [parts[0], {"PartNumber": 2, "ETag": '"' + "0" * 32 + '"'}]})
    assert code(exc) == "InvalidPart"
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=uid,
                                        MultipartUpload={"Parts": parts})
    md5s = b"".join(hashlib.md5(d).digest() for d in parts_data)
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["Body"].read() == b"".join(parts_data)
    assert got["ContentType"] == "application/x-big" and got["Metadata"] == {"origin": "test"}
    tail = s3.get_object(Bucket=bucket, Key="big.bin", Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}")["Body"].read()
    assert tail == parts_data[0][-2:] + parts_data[1][:2]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=uid)
    assert code(exc) == "NoSuchUpload"


def test_multipart_small_parts_abort_and_part_copy(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=n,
                                                       Body=b"tiny")["ETag"]} for n in (1, 2)]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=uid, MultipartUpload={"Parts": parts})
    assert code(exc) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=uid)
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=3, Body=b"late")
    assert code(exc) == "NoSuchUpload"
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="copied")["UploadId"]
    first = s3.upload_part_copy(Bucket=bucket, Key="copied", UploadId=uid, PartNumber=1,
                                CopySource={"Bucket": bucket, "Key": "source"},
                                CopySourceRange=f"bytes=0-{5 * MiB - 1}")["CopyPartResult"]["ETag"]
    second = s3.upload_part_copy(Bucket=bucket, Key="copied", UploadId=uid, PartNumber=2,
                                 CopySource={"Bucket": bucket, "Key": "source"},
                                 CopySourceRange=f"bytes={5 * MiB}-{6 * MiB - 1}")["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="copied", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]})
    assert s3.get_object(Bucket=bucket, Key="copied")["Body"].read() == source


def test_upload_file_uses_multipart_transparently(s3: Any, bucket: str, tmp_path: Any) -> None:
    path = tmp_path / "file.bin"
    data = os.urandom(17 * MiB)
    path.write_bytes(data)
    s3.upload_file(str(path), bucket, "file.bin")
    head = s3.head_object(Bucket=bucket, Key="file.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    out = tmp_path / "back.bin"
    s3.download_file(bucket, "file.bin", str(out))
    assert out.read_bytes() == data


def test_burst_of_writes_keeps_rows_and_blobs_consistent(server: Any, s3: Any, bucket: str, bucket_name: Any) -> None:
    """Many writes at once (group-committed on SQLite): duplicates resolve to the last one, versioned
    keys keep every version, and every stored row has its blob while replaced blobs are gone."""
    from pathlib import Path

    from sqlalchemy import func, select

    from cumulo.services.storage import buckets as bucket_service
    from cumulo.services.storage.models import ObjectVersion
    from cumulo.services.storage.objects import Checks, put_object

    versioned = bucket_name()
    s3.create_bucket(Bucket=versioned)
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})

    async def burst() -> tuple[int, int]:
        platform = server.platform
        plain, ver = await bucket_service.lookup(platform, bucket), await bucket_service.lookup(platform, versioned)

        async def one(b: Any, key: str, data: bytes) -> None:
            async def body() -> Any:
                yield data
            await put_object(platform, b, key, body(), Checks(), content_type=None, meta={})

        jobs = [one(plain, "same", b"p%d" % i) for i in range(10)] + \
            [one(ver, "same", b"v%d" % i) for i in range(10)] + [one(plain, f"k{i}", b"x") for i in range(10)]
        await asyncio.gather(*jobs)
        async with platform.db.session() as session:
            rows = await session.scalar(select(func.count()).select_from(ObjectVersion).where(
                ObjectVersion.bucket_id.in_([plain.id, ver.id])))
        return int(rows or 0), 0

    rows, _ = server.call(burst())
    assert rows == 1 + 10 + 10
    assert s3.get_object(Bucket=bucket, Key="same")["Body"].read().startswith(b"p")
    versions = s3.list_object_versions(Bucket=versioned)["Versions"]
    assert len(versions) == 10 and sum(v["IsLatest"] for v in versions) == 1
    latest = s3.get_object(Bucket=versioned, Key="same")["Body"].read()
    newest = next(v["VersionId"] for v in versions if v["IsLatest"])
    assert latest == s3.get_object(Bucket=versioned, Key="same", VersionId=newest)["Body"].read()
    for v in versions:
        assert s3.get_object(Bucket=versioned, Key="same", VersionId=v["VersionId"])["Body"].read().startswith(b"v")
    # No orphans anywhere on this server: every blob file belongs to a row (or an upload part), so
    # the nine replaced blobs of "same" in the unversioned bucket are gone.
    blobs = [p for p in (Path(server.settings.data_dir) / "storage" / "blobs").rglob("*") if p.is_file()]

    async def referenced() -> int:
        from cumulo.services.storage.models import Part

        async with server.platform.db.session() as session:
            rows = await session.scalar(select(func.count()).select_from(ObjectVersion)
                                        .where(ObjectVersion.blob_id.is_not(None)))
            parts = await session.scalar(select(func.count()).select_from(Part))
        return int(rows or 0) + int(parts or 0)

    assert len(blobs) == server.call(referenced())


def test_stale_multipart_uploads_are_aborted(server: Any, s3: Any, bucket: str) -> None:
    import datetime as dt

    from cumulo.services.storage.reconciler import abort_stale_uploads

    uid = s3.create_multipart_upload(Bucket=bucket, Key="forgotten")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="forgotten", UploadId=uid, PartNumber=1, Body=b"part")
    assert server.call(abort_stale_uploads(server.platform)) == 0  # a fresh upload is kept
    assert server.call(abort_stale_uploads(server.platform, dt.timedelta(seconds=-1))) >= 1
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="forgotten", UploadId=uid)
    assert code(exc) == "NoSuchUpload"


def test_list_versions_rolls_up_common_prefixes(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key in ("photos/1.jpg", "photos/2.jpg", "photos/2.jpg", "readme", "readme", "logs/x/y", "z"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    listed = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["logs/", "photos/"]
    assert [v["Key"] for v in listed["Versions"]] == ["readme", "readme", "z"]
    assert listed["Delimiter"] == "/" and listed["IsTruncated"] is False
    inside = s3.list_object_versions(Bucket=bucket, Prefix="photos/", Delimiter="/")
    assert [v["Key"] for v in inside["Versions"]] == ["photos/1.jpg", "photos/2.jpg", "photos/2.jpg"]
    assert "CommonPrefixes" not in inside
    # Paging one entry at a time: a common prefix counts as one entry and is never split.
    seen: list[str] = []
    kwargs: dict[str, str] = {}
    while True:
        page = s3.list_object_versions(Bucket=bucket, Delimiter="/", MaxKeys=1, **kwargs)
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])] + [v["Key"] for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"]}
        if "NextVersionIdMarker" in page:
            kwargs["VersionIdMarker"] = page["NextVersionIdMarker"]
    assert seen == ["logs/", "photos/", "readme", "readme", "z"]
