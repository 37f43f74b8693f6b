"""Values sealed under the master key stay readable across a rotation (key file re-read, previous keys)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from cumulo.core import crypto


def _platform(data_dir: Path, previous: str | None = None) -> SimpleNamespace:
    settings = SimpleNamespace(master_key=None, master_key_previous=previous, data_dir=data_dir, is_production=False)
    return SimpleNamespace(settings=settings, extras={})


def test_key_file_is_generated_private(tmp_path: Path) -> None:
    key = crypto.master_key(_platform(tmp_path))
    assert len(key) == 32 and oct(os.stat(tmp_path / crypto.KEY_FILE).st_mode & 0o777) == "0o600"


def test_unseal_follows_a_rotation_of_the_key_file(tmp_path: Path) -> None:
    reader = _platform(tmp_path)
    old_sealed = crypto.seal(reader, b"hunter2", b"ctx")
    assert crypto.unseal(reader, old_sealed, b"ctx") == b"hunter2"
    old_key = crypto.master_key(reader)
    new_key = os.urandom(32)
    (tmp_path / crypto.KEY_FILE).write_text(base64.b64encode(new_key).decode())
    (tmp_path / crypto.PREVIOUS_FILE).write_text(base64.b64encode(old_key).decode())
    new_sealed = crypto.encrypt(new_key, b"fresh", b"ctx")
    assert crypto.unseal(reader, new_sealed, b"ctx") == b"fresh"  # reader still cached the old key
    assert crypto.unseal(reader, old_sealed, b"ctx") == b"hunter2"  # via the previous key
    with pytest.raises(crypto.DecryptionFailed):
        crypto.unseal(reader, old_sealed, b"other context")
