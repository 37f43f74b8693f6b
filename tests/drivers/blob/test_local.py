"""The local-files blob store: visible only when committed, temp files cleaned, fan-out layout,
ranges, copies that survive deletes of the original."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cumulo.core.errors import NotFound
from cumulo.drivers.blob import LocalBlobStore, checksums

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _write(store: LocalBlobStore, data: bytes, piece: int = 65536) -> str:
    writer = await store.writer(checksums=checksums.ALGORITHMS)
    for i in range(0, len(data), piece):
        await writer.write(data[i:i + piece])
    return await writer.commit()


async def _read(store: LocalBlobStore, blob_id: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in await store.read(blob_id, start, end)])


@pytest.mark.parametrize("size", [0, 10, 3 * 1024 * 1024 + 7])
def test_round_trip_hashes_and_layout(tmp_path: Path, size: int) -> None:
    store = LocalBlobStore(tmp_path)
    data = os.urandom(size)

    async def go() -> None:
        writer = await store.writer(checksums=checksums.ALGORITHMS)
        for i in range(0, len(data), 100_000):
            await writer.write(data[i:i + 100_000])
        blob_id = await writer.commit()
        assert writer.md5_hex == hashlib.md5(data).hexdigest()
        assert writer.sha256_hex == hashlib.sha256(data).hexdigest()
        path = store.path(blob_id)
        assert path.parent.parent.parent == tmp_path / "blobs"  # blobs/ab/cd/<id>
        assert path.parent.name == blob_id[2:4] and path.parent.parent.name == blob_id[:2]
        assert await _read(store, blob_id) == data
        if size > 20:
            assert await _read(store, blob_id, 5, 14) == data[5:15]
            assert await store.read_all(blob_id, 3, 9) == data[3:10]
        assert list((tmp_path / "tmp").iterdir()) == []

    run(go())


def test_nothing_visible_before_commit_and_abort_cleans_up(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)

    async def go() -> None:
        writer = await store.writer()
        await writer.write(os.urandom(2 * 1024 * 1024))  # past the buffer: a temp file exists now
        await writer.finish()
        assert not store.exists(writer.blob_id)
        assert [p.name for p in (tmp_path / "tmp").iterdir()] == [f"{writer.blob_id}.part"]
        await writer.abort()
        assert list((tmp_path / "tmp").iterdir()) == []
        assert not store.exists(writer.blob_id)

    run(go())


def test_clean_temp_removes_only_stale_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    stale = tmp_path / "tmp" / "crashed.part"
    stale.write_bytes(b"half an upload")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    fresh = tmp_path / "tmp" / "in-progress.part"
    fresh.write_bytes(b"still uploading")
    assert store.clean_temp(older_than=3600) == 1
    assert not stale.exists() and fresh.exists()


def test_duplicate_and_concat_are_independent_of_their_sources(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)

    async def go() -> None:
        a, b = os.urandom(1000), os.urandom(2000)
        ida, idb = await _write(store, a), await _write(store, b)
        copy = await store.duplicate(ida)
        joined = await store.concat([ida, idb])
        joined_id = await joined.commit()
        assert joined.size == 3000
        await store.delete(ida, idb)
        assert await _read(store, copy) == a
        assert await _read(store, joined_id) == a + b
        with pytest.raises(NotFound):
            await store.read(ida)
        with pytest.raises(NotFound):
            store.path("../../etc/passwd")

    run(go())
