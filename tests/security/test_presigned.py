"""Issue 10, point 16: a SigV2 presigned URL lives at most 7 days, like SigV4's (real botocore signing)."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cumulo.client import Client
from cumulo.testing.server import LiveServer
from tests.services.storage.conftest import s3_client


@pytest.fixture
def signer(server_sqlite: LiveServer, sqlite_user: Client) -> Any:
    bucket = f"presigned-v2-{uuid.uuid4().hex[:8]}"
    creds = sqlite_user.storage.create_credentials("presign")
    setup = s3_client(server_sqlite, creds)
    setup.create_bucket(Bucket=bucket)
    setup.put_object(Bucket=bucket, Key="doc.txt", Body=b"hello")
    return s3_client(server_sqlite, creds, signature_version="s3"), bucket  # boto3's SigV2 presigner


def _url(signer: Any, seconds: int) -> str:
    s3, bucket = signer
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.txt"},
                                    ExpiresIn=seconds)
    assert "Signature=" in url and "X-Amz-Signature" not in url  # SigV2
    return str(url)


def test_a_sigv2_url_valid_for_more_than_7_days_is_refused(signer: Any) -> None:
    url = _url(signer, 30 * 24 * 3600)
    expires = int(parse_qs(urlsplit(url).query)["Expires"][0])
    assert expires > time.time() + 29 * 24 * 3600  # correctly signed, just too long-lived
    answer = httpx.get(url)
    assert answer.status_code == 403 and b"<Code>AccessDenied</Code>" in answer.content
    assert b"7 days" in answer.content


def test_a_sigv2_url_within_7_days_works(signer: Any) -> None:
    for seconds in (60, 7 * 24 * 3600):
        answer = httpx.get(_url(signer, seconds))
        assert answer.status_code == 200 and answer.content == b"hello"
