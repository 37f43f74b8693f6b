"""Issue 10, point 17: a code zip whose entry names the file system cannot hold is a clean 400 that
names no server path, and leaves nothing behind in the data dir."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cumulo.client import ApiError, Client
from cumulo.client.functions import zip_files
from cumulo.testing.server import LiveServer


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize("entry", [
    "a" * 300 + ".py",  # one name past the 255-byte limit
    "/".join(["d" * 200] * 30) + "/x.py",  # each part fine, the whole path far past PATH_MAX
    "é" * 200 + ".py",  # 200 characters, 400 bytes
])
@pytest.mark.docker  # needs dockerd (instances or function runtimes)
def test_a_too_long_entry_name_is_a_clean_400(server_sqlite: LiveServer, sqlite_user: Client, entry: str) -> None:
    code_root = Path(server_sqlite.settings.data_dir) / "functions" / "code"
    before = _tree(code_root)
    archive = zip_files({"main.py": "def handler(e, c):\n    return 1\n", entry: "x = 1\n"})
    with pytest.raises(ApiError) as err:
        sqlite_user.functions.create(f"long-{uuid.uuid4().hex[:8]}", "python", archive)
    assert err.value.status == 400 and "too long" in err.value.message
    assert str(server_sqlite.settings.data_dir) not in err.value.message and "/tmp" not in err.value.message
    assert _tree(code_root) == before  # no empty function folder, no partial tree
    assert sqlite_user.functions.list() == []


def test_extraction_failure_removes_the_folders_it_made(tmp_path: Path) -> None:
    """Whatever stops an extraction midway (here: the unpacked size, counted while writing), the
    function's folder it created is gone again."""
    from cumulo.core.errors import CumuloError
    from cumulo.services.functions import code

    archive = code.check(zip_files({"main.py": "x" * 5000}), 10**6, 10**6)
    target = tmp_path / "functions" / "code" / "fn-1" / "1"
    with pytest.raises(CumuloError):
        code.extract(archive, target, max_unzipped=100)
    assert not (tmp_path / "functions").exists()
