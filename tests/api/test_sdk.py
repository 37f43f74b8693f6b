"""The SDK's transport (``cumulo.client.transport``): a streamed answer and an error answer reach
the caller as they do for plain requests (the namespaces take a ``Transport`` only)."""

from __future__ import annotations

import io
import uuid

import pytest

from cumulo.client import ApiError, Client
from cumulo.client.transport import Transport


def test_streamed_download_and_its_errors(sqlite_user: Client) -> None:
    assert isinstance(sqlite_user, Transport)
    bucket = f"sdk-{uuid.uuid4().hex[:8]}"
    sqlite_user.storage.create_bucket(bucket)
    try:
        sqlite_user.storage.put(bucket, "a.txt", b"hello sdk")
        out = io.BytesIO()
        assert sqlite_user.storage.download(bucket, "a.txt", out) == 9 and out.getvalue() == b"hello sdk"
        with pytest.raises(ApiError) as err:
            sqlite_user.storage.download(bucket, "missing.txt", io.BytesIO())
        assert err.value.status == 404 and err.value.code != "ERROR"  # the server's error body, parsed
        sqlite_user.storage.delete(bucket, "a.txt")
    finally:
        sqlite_user.storage.delete_bucket(bucket)
