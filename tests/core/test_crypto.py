"""The master-key helper: sealing round-trips, tampering and wrong context fail, key loading rules."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from cumulo.core import crypto
from cumulo.core.config import Settings
from cumulo.core.errors import Unavailable


def test_round_trip_and_context_binding() -> None:
    key = os.urandom(32)
    sealed = crypto.encrypt(key, b"s3cr3t", aad=b"row-1")
    assert b"s3cr3t" not in sealed
    assert crypto.decrypt(key, sealed, aad=b"row-1") == b"s3cr3t"
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(key, sealed, aad=b"row-2")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(os.urandom(32), sealed, aad=b"row-1")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(key, tampered, aad=b"row-1")


def test_key_from_environment_in_hex_or_base64(tmp_path) -> None:  # type: ignore[no-untyped-def]
    raw = os.urandom(32)
    for text in (raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        assert crypto.master_key(Settings(data_dir=tmp_path, master_key=text)) == raw
    with pytest.raises(Unavailable):
        crypto.master_key(Settings(data_dir=tmp_path, master_key="too-short"))


def test_generated_key_file_is_private_and_stable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = crypto.master_key(Settings(data_dir=tmp_path))
    assert len(first) == 32
    mode = stat.S_IMODE((tmp_path / "master.key").stat().st_mode)
    assert mode == 0o600
    assert crypto.master_key(Settings(data_dir=tmp_path)) == first


def test_production_refuses_a_missing_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Unavailable):
        crypto.master_key(Settings(data_dir=tmp_path, env="production"))
    assert not (tmp_path / "master.key").exists()
