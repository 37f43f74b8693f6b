"""Envelope encryption on disk, ``resolve_env`` and master-key rotation while the server runs."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from cumulo.client import ApiError, Client
from cumulo.core import crypto
from cumulo.core.errors import NotFound, Unavailable
from cumulo.platform import build_platform
from cumulo.services.notify import service as notify
from cumulo.services.notify.models import Subscription
from cumulo.services.secrets import keys, service
from cumulo.services.secrets.models import DataKey, SecretVersion
from cumulo.services.secrets.rotation import rotate
from cumulo.testing import server as testing_server
from tests.conftest import register_and_login


def test_ciphertext_on_disk_does_not_contain_plaintext(server, user: Client) -> None:  # type: ignore[no-untyped-def]
    plaintext = f"PLAINTEXT-{uuid.uuid4().hex}"
    secret = user.secrets.create(f"disk-{uuid.uuid4().hex[:6]}", plaintext)

    async def stored() -> list[bytes]:
        async with server.platform.db.session() as session:
            return list((await session.scalars(select(SecretVersion.ciphertext)
                                               .where(SecretVersion.secret_id == secret["id"]))).all())

    sealed = server.call(stored())
    assert sealed and all(plaintext.encode() not in blob for blob in sealed)
    if not server.platform.db.is_postgres:
        data_dir = Path(server.settings.data_dir)
        for path in data_dir.glob("cumulo.db*"):
            assert plaintext.encode() not in path.read_bytes()
        key_file = data_dir / crypto.KEY_FILE
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_resolve_env_for_launches(server, user: Client, other_user: Client) -> None:  # type: ignore[no-untyped-def]
    name = f"api-token-{uuid.uuid4().hex[:6]}"
    user.secrets.create(name, "tok-123")
    foreign = f"foreign-{uuid.uuid4().hex[:6]}"
    other_user.secrets.create(foreign, "not yours")
    user_id = user.identity.me()["id"]

    async def resolve(mapping: dict[str, str]) -> dict[str, str]:
        async with server.platform.db.session() as session:
            out = await service.resolve_env(session, user_id, mapping)
            await session.commit()
            return out

    assert server.call(resolve({"API_TOKEN": name, "AGAIN": name})) == {"API_TOKEN": "tok-123", "AGAIN": "tok-123"}
    with pytest.raises(NotFound):
        server.call(resolve({"X": foreign}))
    with pytest.raises(NotFound):
        server.call(resolve({"X": "does-not-exist"}))
    with pytest.raises(Exception) as err:
        server.call(resolve({"1BAD": name}))
    assert getattr(err.value, "status", None) == 400
    assert "tok-123" not in str(user.events(limit=50))


def test_rotate_master_key_while_serving(make_server) -> None:  # type: ignore[no-untyped-def]
    live = make_server()
    client = register_and_login(live)
    name = f"rot-{uuid.uuid4().hex[:6]}"
    client.secrets.create(name, "before rotation")
    topic = client.notify.create_topic(f"t-{uuid.uuid4().hex[:6]}")
    sub = client.notify.subscribe(topic["id"], "webhook", "http://127.0.0.1:9/hook")
    data_dir = Path(live.settings.data_dir)
    old_key = (data_dir / crypto.KEY_FILE).read_text()

    summary = asyncio.run(rotate(None, live.settings))
    assert "secrets: 1 re-wrapped" in summary and "notify: 1 re-wrapped" in summary
    assert (data_dir / crypto.KEY_FILE).read_text() != old_key
    assert stat.S_IMODE(os.stat(data_dir / crypto.KEY_FILE).st_mode) == 0o600
    assert old_key.strip() in (data_dir / keys.PREVIOUS_FILE).read_text()

    # the running server cached its data keys; drop that cache to force an unwrap with the rotated key
    live.platform.extras.pop("secrets.data_keys", None)
    assert client.secrets.value(name) == "before rotation"
    client.secrets.put(name, "after rotation")
    assert client.secrets.value(name, version=1) == "before rotation"

    async def fingerprints() -> set[str]:
        async with live.platform.db.session() as session:
            return set((await session.scalars(select(DataKey.master_fp))).all())

    new_key = crypto.parse_key((data_dir / crypto.KEY_FILE).read_text())
    assert live.call(fingerprints()) == {keys.fingerprint(new_key)}

    async def webhook_secret() -> tuple[bytes, bytes]:
        async with live.platform.db.session() as session:
            row = await session.get(Subscription, sub["id"])
            return notify.signing_secret(live.platform, row), row.secret_sealed

    opened, sealed = live.call(webhook_secret())  # the server still caches the old key: unseal re-reads
    assert opened.decode() == sub["signing_secret"]
    assert crypto.decrypt(new_key, sealed, sub["id"].encode()) == opened
    with pytest.raises(ValueError):
        asyncio.run(rotate(base64.b64encode(new_key).decode(), live.settings))
    client.close()


def test_wrong_master_key_cannot_read(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    live = make_server()
    client = register_and_login(live)
    name = f"k-{uuid.uuid4().hex[:6]}"
    client.secrets.create(name, "v")
    (Path(live.settings.data_dir) / crypto.KEY_FILE).write_text(base64.b64encode(os.urandom(32)).decode())
    live.platform.extras.pop("secrets.data_keys", None)
    live.platform.extras.pop("master_key", None)
    with pytest.raises(ApiError) as err:
        client.secrets.value(name)
    assert err.value.status == 503
    client.close()


def test_production_without_master_key_is_refused(tmp_path: Path) -> None:
    platform = build_platform(testing_server.test_settings(str(tmp_path), env="production"))
    with pytest.raises(Unavailable):
        keys.keyring(platform)
    assert not (tmp_path / crypto.KEY_FILE).exists()
    asyncio.run(platform.db.dispose())
