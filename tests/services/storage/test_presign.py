"""POST /storage/buckets/{bucket}/objects/{key}/presign: a SigV4 presigned GET URL on the S3 endpoint
that plain httpx downloads (no credentials of its own), that stops at its expiry and with its
credential; the range of the expiry, someone else's bucket and a missing object are refused."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
import pytest

from cumulo.client import ApiError, Client


def _presign(user: Client, bucket: str, key: str, **body: Any) -> dict[str, Any]:
    return user.post(f"/storage/buckets/{bucket}/objects/{key}/presign", body)  # type: ignore[no-any-return]


def _status(call: Any) -> int:
    with pytest.raises(ApiError) as exc:
        call()
    return exc.value.status


def test_presigned_url_downloads_then_expires(user: Client, other_user: Client, creds: dict[str, Any],
                                              bucket_name: Any) -> None:
    name = bucket_name()
    user.storage.create_bucket(name)
    key = "reports/2026 q4/ünïcode+plus.txt"
    user.storage.put(name, key, b"presigned body", content_type="text/plain")
    out = _presign(user, name, key, expires_in_seconds=120)
    assert out["access_key_id"] == creds["access_key_id"] and out["method"] == "GET"
    assert out["url"].startswith(creds["endpoint_url"]) and "X-Amz-Signature=" in out["url"]
    r = httpx.get(out["url"])
    assert r.status_code == 200, r.text
    assert r.content == b"presigned body"
    assert httpx.put(out["url"], content=b"x").status_code == 403  # signed for GET only

    short = _presign(user, name, key, expires_in_seconds=1)
    expires = dt.datetime.fromisoformat(short["expires_at"])
    while dt.datetime.now(dt.UTC) <= expires + dt.timedelta(seconds=1):  # past the expiry the URL states
        time.sleep(0.5)
    gone = httpx.get(short["url"])
    assert gone.status_code == 403 and b"expired" in gone.content

    for bad in (0, -5, 7 * 86400 + 1, "soon"):
        assert _status(lambda bad=bad: _presign(user, name, key, expires_in_seconds=bad)) == 400
    assert _status(lambda: _presign(user, name, "no/such/key")) == 404
    assert _status(lambda: _presign(other_user, name, key)) == 404  # not theirs: as if missing
    assert _status(lambda: _presign(user, name, key, access_key_id="CMLONOTMINE")) == 404

    user.storage.delete_credentials(creds["access_key_id"])
    assert httpx.get(out["url"]).status_code == 403  # its credential revoked: the link is dead
    assert _status(lambda: _presign(user, name, key)) == 409  # no credential left to sign with
    user.storage.delete(name, key)
    user.storage.delete_bucket(name)
