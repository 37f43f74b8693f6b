"""Authenticated encryption with the server's master key (AES-256-GCM).

``encrypt``/``decrypt`` seal small secrets (S3 secret keys, secret values, data keys) so the
database alone never reveals them. A sealed value is ``version(1) | nonce(12) | ciphertext+tag``;
``aad`` binds it to its context (e.g. the row id), so a sealed value copied to another row fails.

``master_key(platform)`` loads the 32-byte key: ``CUMULO_MASTER_KEY`` (base64 or hex), else
``<data_dir>/master.key`` (created with mode 0600 on first use in development). In production a
missing key is refused: a key generated silently next to the data would protect nothing.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cumulo.core.errors import CumuloError, Unavailable

KEY_BYTES = 32
_VERSION = b"\x01"
_NONCE = 12
KEY_FILE = "master.key"


class DecryptionFailed(CumuloError):
    code, status, default_message = "DECRYPTION_FAILED", 500, "A sealed value could not be decrypted"


def encrypt(master_key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    _check(master_key)
    nonce = secrets.token_bytes(_NONCE)
    return _VERSION + nonce + AESGCM(master_key).encrypt(nonce, plaintext, aad or None)


def decrypt(master_key: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
    _check(master_key)
    if len(sealed) < 1 + _NONCE + 16 or sealed[:1] != _VERSION:
        raise DecryptionFailed("sealed value is malformed")
    nonce, body = sealed[1:1 + _NONCE], sealed[1 + _NONCE:]
    try:
        return AESGCM(master_key).decrypt(nonce, body, aad or None)
    except InvalidTag as exc:
        raise DecryptionFailed("sealed value does not match the master key or its context") from exc


def parse_key(value: str) -> bytes:
    """A 32-byte key written as 64 hex digits or base64 (standard or URL-safe)."""
    text = value.strip()
    if len(text) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if ("-" in text or "_" in text) else None,
                               validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("master key must be 32 bytes as 64 hex digits or base64") from exc
    if len(raw) != KEY_BYTES:
        raise ValueError(f"master key must be {KEY_BYTES} bytes, got {len(raw)}")
    return raw


PREVIOUS_FILE = "master.key.previous"


def previous_keys(settings: Any) -> list[bytes]:
    """Older master keys still accepted for reading (``CUMULO_MASTER_KEY_PREVIOUS``, ``master.key.previous``)."""
    keys: list[bytes] = []
    configured = getattr(settings, "master_key_previous", None) or ""
    path = Path(settings.data_dir) / PREVIOUS_FILE
    texts = [t for t in configured.split(",") if t.strip()]
    if path.exists():
        texts += [t for t in path.read_text().splitlines() if t.strip()]
    for text in texts:
        try:
            keys.append(parse_key(text))
        except ValueError:
            raise Unavailable("a previous master key (CUMULO_MASTER_KEY_PREVIOUS or master.key.previous) "
                              "is invalid") from None
    return keys


def seal(platform: Any, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt a small value (a password, a signing secret) directly under the master key."""
    return encrypt(master_key(platform), plaintext, aad)


def unseal(platform: Any, sealed: bytes, aad: bytes) -> bytes:
    """Decrypt what ``seal`` produced, across a master-key rotation: when the cached key does not
    fit, the key file is read again and the previous keys are tried."""
    try:
        return decrypt(master_key(platform), sealed, aad)
    except DecryptionFailed:
        extras = getattr(platform, "extras", None)
        if isinstance(extras, dict):
            extras.pop("master_key", None)
        settings = getattr(platform, "settings", platform)
        for key in [master_key(platform), *previous_keys(settings)]:
            try:
                return decrypt(key, sealed, aad)
            except DecryptionFailed:
                continue
        raise


def master_key(platform: Any) -> bytes:
    """The platform's master key (cached in ``platform.extras`` when it has them)."""
    extras = getattr(platform, "extras", None)
    if isinstance(extras, dict) and "master_key" in extras:
        return extras["master_key"]  # type: ignore[no-any-return]
    key = _load(getattr(platform, "settings", platform))
    if isinstance(extras, dict):
        extras["master_key"] = key
    return key


def _load(settings: Any) -> bytes:
    configured = getattr(settings, "master_key", None)
    if configured:
        try:
            return parse_key(configured)
        except ValueError as exc:
            raise Unavailable(f"CUMULO_MASTER_KEY is invalid: {exc}") from None
    path = Path(settings.data_dir) / KEY_FILE
    if path.exists():
        return _read_file(path)
    if getattr(settings, "is_production", False):
        raise Unavailable("no master key: set CUMULO_MASTER_KEY (32 bytes, base64 or hex) in production")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
    except FileExistsError:  # another process won the race: use its key
        pass
    finally:
        if fd is not None:
            os.close(fd)
    return _read_file(path)


def _read_file(path: Path) -> bytes:
    try:
        return parse_key(path.read_text())
    except ValueError as exc:
        raise Unavailable(f"{path} is not a valid master key: {exc}") from None


def _check(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"master key must be {KEY_BYTES} bytes")
