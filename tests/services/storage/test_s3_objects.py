"""The S3 port driven by boto3: buckets, put/get/head/list/copy/delete, ranges, conditions, metadata."""

from __future__ import annotations

import hashlib
from typing import Any

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
