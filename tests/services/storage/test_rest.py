"""The REST door under /storage (X-API-Key): buckets, objects by path, credentials, ownership, input errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cumulo.client import ApiError, Client


def test_buckets_and_objects_round_trip(user: Client, bucket_name: Any) -> None:
    name = bucket_name()
    created = user.storage.create_bucket(name)
    assert created["name"] == name and created["public"] is False
    assert name in [b["name"] for b in user.storage.buckets()]
    out = user.storage.put(name, "docs/2024/report.json", b'{"ok": true}', content_type="application/json")
    assert out["size"] == 12 and out["key"] == "docs/2024/report.json"
    assert user.storage.get(name, "docs/2024/report.json") == b'{"ok": true}'
    head = user.storage.head(name, "docs/2024/report.json")
    assert head["content-type"] == "application/json" and head["content-length"] == "12"
    user.storage.put(name, "docs/readme.txt", b"hi", content_type="text/plain")
    user.storage.put(name, "top.txt", b"top")
    page = user.storage.list(name, prefix="docs/")
    assert [o["key"] for o in page["objects"]] == ["docs/2024/report.json", "docs/readme.txt"]
    page = user.storage.list(name, delimiter="/")
    assert [o["key"] for o in page["objects"]] == ["top.txt"] and page["common_prefixes"] == ["docs/"]
    first = user.storage.list(name, limit=1)
    assert first["is_truncated"] and first["next_after"] == "docs/2024/report.json"
    assert [o["key"] for o in user.storage.list(name, after=first["next_after"])["objects"]] == \
        ["docs/readme.txt", "top.txt"]
    with pytest.raises(ApiError) as exc:
        user.storage.delete_bucket(name)
    assert exc.value.status == 409
    for key in ("docs/2024/report.json", "docs/readme.txt", "top.txt"):
        user.storage.delete(name, key)
    with pytest.raises(ApiError) as exc:
        user.storage.get(name, "top.txt")
    assert exc.value.status == 404
    with pytest.raises(ApiError) as exc:
        user.storage.delete(name, "top.txt")
    assert exc.value.status == 404
    user.storage.delete_bucket(name)
    assert name not in [b["name"] for b in user.storage.buckets()]


def test_rest_and_s3_see_the_same_objects(user: Client, s3: Any, bucket: str) -> None:
    user.storage.put(bucket, "from-rest", b"one door")
    assert s3.get_object(Bucket=bucket, Key="from-rest")["Body"].read() == b"one door"
    s3.put_object(Bucket=bucket, Key="from-s3", Body=b"other door", ContentType="text/plain")
    assert user.storage.get(bucket, "from-s3") == b"other door"


def test_other_users_bucket_is_404(user: Client, other_user: Client, bucket_name: Any) -> None:
    name = bucket_name()
    user.storage.create_bucket(name)
    user.storage.put(name, "private", b"mine")
    for call in (lambda: other_user.storage.get(name, "private"),
                 lambda: other_user.storage.put(name, "x", b"theirs"),
                 lambda: other_user.storage.delete(name, "private"),
                 lambda: other_user.storage.list(name),
                 lambda: other_user.storage.delete_bucket(name),
                 lambda: other_user.storage.head(name, "private")):
        with pytest.raises(ApiError) as exc:
            call()
        assert exc.value.status == 404
    with pytest.raises(ApiError) as exc:
        other_user.storage.create_bucket(name)
    assert exc.value.status == 409
    assert user.storage.get(name, "private") == b"mine"


def test_bad_input_is_400_never_500(server: Any, user: Client, bucket_name: Any) -> None:
    for bad in ("Upper", "a", "x" * 64, "a..b", "-lead", "10.0.0.1", "credentials", "has space", "é-bucket"):
        with pytest.raises(ApiError) as exc:
            user.storage.create_bucket(bad)
        assert exc.value.status == 400, bad
    name = bucket_name()
    user.storage.create_bucket(name)
    with pytest.raises(ApiError) as exc:
        user.storage.put(name, "k" * 1100, b"x")
    assert exc.value.status == 400
    with pytest.raises(ApiError) as exc:
        user.storage.put(name, "nul\x00key", b"x")
    assert exc.value.status == 400
    user.storage.put(name, "ctl\x01key", b"x")  # other control characters are valid in keys, as on S3
    assert user.storage.get(name, "ctl\x01key") == b"x"
    user.storage.delete(name, "ctl\x01key")
    with pytest.raises(ApiError) as exc:
        user.request("PUT", f"/storage/{name}/md5", content=b"abc", headers={"Content-MD5": "not base64!"})
    assert exc.value.status == 400
    with pytest.raises(ApiError) as exc:
        user.request("PUT", f"/storage/{name}/md5", content=b"abc", headers={"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
    assert exc.value.status == 400 and exc.value.details == {"s3_code": "BadDigest"}
    with pytest.raises(ApiError):
        user.storage.head(name, "md5")  # nothing half-created
    with pytest.raises(ApiError) as exc:
        user.storage.list(name, limit=0)
    assert exc.value.status == 400
    with pytest.raises(ApiError) as exc:
        user.storage.create_bucket("")
    assert exc.value.status == 400
    assert httpx.get(f"{server.url}/storage/buckets").status_code == 401


def test_credentials_are_shown_once_and_scoped(user: Client, other_user: Client) -> None:
    created = user.storage.create_credentials("laptop")
    assert created["access_key_id"].startswith("CMLO") and len(created["secret_access_key"]) >= 30
    assert created["endpoint_url"].startswith("http://") and created["region"] == "us-east-1"
    listed = user.storage.credentials()
    assert [c["access_key_id"] for c in listed] == [created["access_key_id"]]
    assert "secret_access_key" not in listed[0]
    with pytest.raises(ApiError) as exc:
        other_user.storage.delete_credentials(created["id"])
    assert exc.value.status == 404
    with pytest.raises(ApiError) as exc:
        user.storage.delete_credentials("not-a-real-id")
    assert exc.value.status == 404
    events = user.events()
    assert any(e["action"] == "storage.credential.created" for e in events)
    assert created["secret_access_key"] not in str(events)
    user.storage.delete_credentials(created["access_key_id"])
    assert user.storage.credentials() == []


def test_secret_is_stored_encrypted(server: Any, user: Client) -> None:
    created = user.storage.create_credentials()

    async def stored() -> bytes:
        from sqlalchemy import select

        from cumulo.services.storage.models import Credential

        async with server.platform.db.session() as session:
            return await session.scalar(select(Credential.secret_sealed).where(  # type: ignore[no-any-return]
                Credential.access_key_id == created["access_key_id"]))

    sealed = server.call(stored())
    assert created["secret_access_key"].encode() not in sealed and len(sealed) > 40


def test_master_key_rotation_keeps_s3_credentials_working(make_server: Any) -> None:
    import asyncio

    from cumulo.services.secrets.rotation import rotate
    from tests.conftest import register_and_login
    from tests.services.storage.conftest import s3_client

    live = make_server()
    client = register_and_login(live)
    creds = client.storage.create_credentials()
    s3 = s3_client(live, creds)
    s3.create_bucket(Bucket="rotation-check")
    s3.put_object(Bucket="rotation-check", Key="k", Body=b"before")
    summary = asyncio.run(rotate(None, live.settings))
    assert "storage: 1 re-wrapped" in summary
    live.platform.extras.pop("storage.credentials", None)  # force the secret to be unsealed again
    assert s3.get_object(Bucket="rotation-check", Key="k")["Body"].read() == b"before"
    assert s3_client(live, creds).list_buckets()["Buckets"][0]["Name"] == "rotation-check"


def test_rest_uploads_stream_past_the_api_body_cap(user: Client, bucket: str, server: Any) -> None:
    size = server.settings.max_body_bytes + 3 * 1024 * 1024
    data = bytes(range(256)) * (size // 256)

    def chunks():  # no Content-Length: a chunked upload
        for i in range(0, len(data), 1024 * 1024):
            yield data[i:i + 1024 * 1024]

    out = user.storage.put(bucket, "big/with-length.bin", data)
    assert out["size"] == len(data)
    r = httpx.put(f"{server.url}/storage/{bucket}/big/chunked.bin", content=chunks(),
                  headers={"X-API-Key": user.api_key})
    assert r.status_code == 200, r.text
    assert user.storage.get(bucket, "big/chunked.bin") == data
    # Other API bodies keep the cap.
    r = httpx.post(f"{server.url}/storage/buckets", content=b"{" + b" " * size + b"}",
                   headers={"X-API-Key": user.api_key, "Content-Type": "application/json"})
    assert r.status_code == 413
    for key in ("big/with-length.bin", "big/chunked.bin"):
        user.storage.delete(bucket, key)
