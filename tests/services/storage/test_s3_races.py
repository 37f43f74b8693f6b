"""Small PUTs racing on one key (the group-commit path): every PUT lands as its own version, exactly
one is the latest, and GET returns it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any


def test_small_puts_racing_on_one_key(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    def writer(w: int) -> list[str]:
        return [s3.put_object(Bucket=bucket, Key="race", Body=f"{w}-{i}".encode())["VersionId"] for i in range(10)]

    with ThreadPoolExecutor(8) as pool:
        written = [v for ids in pool.map(writer, range(8)) for v in ids]
    listed = s3.list_object_versions(Bucket=bucket, Prefix="race")["Versions"]
    assert sorted(v["VersionId"] for v in listed) == sorted(written) and len(set(written)) == 80
    latest = [v for v in listed if v["IsLatest"]]
    assert len(latest) == 1 and latest[0]["VersionId"] == listed[0]["VersionId"]
    body = s3.get_object(Bucket=bucket, Key="race")["Body"].read()
    assert s3.get_object(Bucket=bucket, Key="race", VersionId=latest[0]["VersionId"])["Body"].read() == body


def test_small_puts_racing_on_one_key_without_versioning(s3: Any, bucket: str) -> None:
    def writer(w: int) -> None:
        for i in range(10):
            s3.put_object(Bucket=bucket, Key="plain", Body=f"{w}-{i}".encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(writer, range(8)))
    listed = s3.list_object_versions(Bucket=bucket, Prefix="plain")["Versions"]
    assert len(listed) == 1 and listed[0]["IsLatest"] and listed[0]["VersionId"] == "null"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="plain")["KeyCount"] == 1
