"""The local blob store on its own: group-committed small blobs, the pipelined large-blob writer,
and reads from the page cache."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from cumulo.core.errors import NotFound
from cumulo.drivers.blob import checksums
from cumulo.drivers.blob.local import FLUSH_AT, SMALL_PER_DIR, LocalBlobStore


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_small_blobs_are_group_committed_and_readable(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)

    async def main() -> list[bytes]:
        payloads = [os.urandom(100 + i) for i in range(40)]
        ids = []
        for _ in payloads:
            writer = await store.writer()
            ids.append(writer.blob_id)
        await asyncio.gather(*(store.put_small(i, p) for i, p in zip(ids, payloads, strict=True)))
        assert [await store.read_all(i, 0, len(p) - 1) for i, p in zip(ids, payloads, strict=True)] == payloads
        assert await store.read_all(ids[0], 10, 19) == payloads[0][10:20]
        return payloads

    _run(main())
    assert not list(store.tmp_dir.iterdir())
    store.close()


def test_take_small_hands_over_an_unwritten_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)

    async def main() -> None:
        writer = await store.writer(checksums=("crc32",))
        await writer.write(b"hello ")
        await writer.write(memoryview(b"world"))
        await writer.finish()
        assert writer.md5_hex == hashlib.md5(b"hello world").hexdigest()
        assert writer.checksum("crc32") == checksums.of("crc32", b"hello world")
        data = writer.take_small()
        assert data == b"hello world"
        assert not store.path(writer.blob_id).exists()  # nothing on disk until the caller writes it
        assert store.write_group_sync([(writer.blob_id, data)]) == [None]
        assert await store.read_all(writer.blob_id, 0, 10) == b"hello world"
        await writer.abort()  # a no-op once taken
        assert store.path(writer.blob_id).exists()

    _run(main())
    store.close()


def test_large_blob_is_hashed_and_written_in_order(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    payload = os.urandom(3 * FLUSH_AT + 12345)

    async def main() -> str:
        writer = await store.writer(checksums=checksums.ALGORITHMS)
        for start in range(0, len(payload), 70000):  # pieces of an odd size, as a socket hands them over
            await writer.write(payload[start:start + 70000])
        assert writer.take_small() is None  # already on its way to disk
        await writer.commit()
        assert writer.md5_hex == hashlib.md5(payload).hexdigest()
        assert writer.sha256_hex == hashlib.sha256(payload).hexdigest()
        for algorithm in checksums.ALGORITHMS:  # every x-amz-checksum algorithm, across batch boundaries
            assert writer.checksum(algorithm) == checksums.of(algorithm, payload), algorithm
        chunks = [c async for c in await store.read(writer.blob_id)]
        assert b"".join(chunks) == payload
        return writer.blob_id

    blob_id = _run(main())
    assert store.path(blob_id).stat().st_size == len(payload)
    assert not list(store.tmp_dir.iterdir())
    store.close()


def test_reading_a_missing_blob_is_not_found(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(NotFound):
        _run(store.read_all("0" * 32, 0, 9))
    store.close()


def test_small_blobs_in_a_row_share_a_directory(tmp_path: Path) -> None:
    """Small blob ids come in runs of ``SMALL_PER_DIR`` sharing their directory (fewer directories
    created, fewer journal blocks per group commit), still unique, then move to another directory."""
    store = LocalBlobStore(tmp_path)

    async def main() -> list[str]:
        ids = []
        for i in range(SMALL_PER_DIR + 1):
            writer = await store.writer()
            await writer.write(b"x%d" % i)
            if i % 2:
                await writer.finish()
                assert writer.take_small() == b"x%d" % i
            else:
                await writer.commit()  # the group-committed path
                assert await store.read_all(writer.blob_id) == b"x%d" % i
            ids.append(writer.blob_id)
        return ids

    ids = _run(main())
    store.close()
    assert len(set(ids)) == len(ids)
    run = ids[:SMALL_PER_DIR]
    assert {store.path(i).parent for i in run} == {store.path(run[0]).parent}
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
