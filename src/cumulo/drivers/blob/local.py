"""Blobs as files on the local disk.

Layout under ``root``: ``blobs/ab/cd/<id>`` (two levels of 256 fan-out, so no directory grows past a
few thousand entries even with hundreds of millions of blobs) and ``tmp/`` for writes in progress.
A write streams into ``tmp/`` while hashing; ``commit()`` fsyncs and renames it into place, so a
blob is visible only when complete, and a crash leaves only a temporary file that ``clean_temp``
removes at the next start. Blobs are immutable: an overwrite is a new blob, so a reader that
opened the old one keeps reading consistent bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import io
import os
import random
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from cumulo.core.errors import NotFound, Unavailable
from cumulo.drivers.blob.checksums import Checksum

T = TypeVar("T")
CHUNK = 1024 * 1024
FLUSH_AT = 1024 * 1024  # a batch handed to the worker threads
MAX_PENDING = 4 * 1024 * 1024  # queued behind the batch in flight before the receiver waits
SYNC_EVERY = 16 * 1024 * 1024  # write-back started by the write lane as the blob grows
INLINE_MAX = 64 * 1024  # blobs up to this size are written in one piece, group-committed
SMALL_GROUP = 128
SMALL_GROUPS = 1  # groups in flight at once (measured: more did not help here)
SMALL_PER_DIR = 256  # small blobs given ids in one directory before another one is picked


def _find_syncfs() -> Callable[[int], int] | None:
    """``syncfs(2)`` (Linux): one journal commit makes every file written so far durable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_SYNCFS = _find_syncfs()
_RWF_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)


def random_hex() -> str:
    """128 random bits as 32 hex digits, without a system call: ``uuid4`` reads ``os.urandom``, which
    releases the GIL, and under load getting it back can cost the event loop milliseconds. Blob and
    request ids need uniqueness, not secrecy (the generator is seeded from the OS, and again after
    a fork)."""
    return f"{random.getrandbits(128):032x}"


class BlobWriter:
    """One blob being written: ``write`` chunks, then ``commit()`` (or ``abort()``).

    Received data is handed to worker threads in batches of at least ``FLUSH_AT`` bytes, as the list
    of received pieces (no joining copy). Each batch runs as parallel lanes, each lane in order:
    MD5 (the long pole: sequential, about 730 MiB/s on one core), the optional SHA-256 / CRC32, and
    the file write. The event loop keeps receiving while a batch is processed; it waits only when
    ``MAX_PENDING`` bytes are queued behind the batch in flight, which bounds memory per upload.
    The write lane also starts write-back every ``SYNC_EVERY`` bytes (``fdatasync``, off the critical
    path: the MD5 lane is slower), so the ``fsync`` in ``commit`` only waits for the tail.

    A small blob costs one thread hop in all: open, write, fsync and rename happen together in
    ``commit``."""

    def __init__(self, store: LocalBlobStore, *, checksums: Iterable[str] = ()):
        self.store = store
        self.blob_id = random_hex()
        self.tmp = store.tmp_dir / f"{self.blob_id}.part"
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sums = {algorithm: Checksum(algorithm) for algorithm in checksums}
        self._pending: list[Any] = []
        self._pending_size = 0
        self._hashed_pending = False
        self._inflight: asyncio.Future[Any] | None = None
        self._fh: Any = None
        self._unsynced = 0
        self.closed = False

    async def write(self, data: Any) -> None:
        """Queue ``data`` (bytes or a memoryview of immutable bytes; kept, not copied)."""
        if not data:
            return
        self.size += len(data)
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size < FLUSH_AT:
            return
        if self._inflight is not None:
            if not self._inflight.done() and self._pending_size < MAX_PENDING:
                return  # keep receiving while the previous batch is processed
            await self._settle()
        self._start()

    async def _settle(self) -> None:
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            try:
                await inflight
            except OSError as exc:
                raise Unavailable(f"blob store cannot write: {exc.strerror}") from None

    def _start(self) -> None:
        pieces, self._pending, self._pending_size = self._pending, [], 0
        run = self.store.run
        jobs = [run(self._md5_lane, pieces), run(self._write_lane, pieces)]
        if self._sums:
            jobs.append(run(self._checksum_lane, pieces))
        self._inflight = asyncio.gather(*jobs)

    def _open_sync(self) -> None:
        if self._fh is None:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # owner-only, like the data dir
            self._fh = os.fdopen(fd, "wb", buffering=0)  # closed in commit/abort

    def _md5_lane(self, pieces: list[Any]) -> None:
        update = self._md5.update
        for piece in pieces:
            update(piece)

    def _write_lane(self, pieces: list[Any]) -> None:
        self._open_sync()
        fd = self._fh.fileno()
        for piece in pieces:
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view):]
            self._unsynced += len(piece)
        if self._unsynced >= SYNC_EVERY:  # start write-back now: the final fsync then waits for less
            os.fdatasync(fd)
            self._unsynced = 0

    def _checksum_lane(self, pieces: list[Any]) -> None:
        for piece in pieces:
            for running in self._sums.values():
                running.update(piece)

    async def finish(self) -> None:
        """Wait for queued data to be processed; hashes are final after this. A small remainder is
        only hashed here (in the loop: it is small) and written by ``commit``."""
        if self._pending_size > INLINE_MAX and not self._hashed_pending:
            await self._settle()
            self._start()
        await self._settle()
        if self._pending and not self._hashed_pending:
            chunk = b"".join(self._pending)
            self._pending = [chunk]
            self._md5.update(chunk)
            self._checksum_lane([chunk])
            self._hashed_pending = True

    @property
    def md5_hex(self) -> str:
        return self._md5.hexdigest()

    @property
    def md5_digest(self) -> bytes:
        return self._md5.digest()

    @property
    def sha256_hex(self) -> str | None:
        running = self._sums.get("sha256")
        return running.digest().hex() if running is not None else None

    def checksum(self, algorithm: str) -> str | None:
        """The x-amz-checksum value (base64) of ``algorithm``, if it was asked for."""
        running = self._sums.get(algorithm)
        return running.b64 if running is not None else None

    def take_small(self) -> bytes | None:
        """After ``finish``: the whole blob, if it is small and nothing is on disk yet, for the caller
        to store with ``LocalBlobStore.write_group_sync`` (or ``put_small``) itself; the writer is then
        done. None otherwise (use ``commit``)."""
        if self._fh is not None or self._inflight is not None or sum(len(p) for p in self._pending) > INLINE_MAX:
            return None
        data = b"".join(self._pending)
        self._pending = []
        self.closed = True
        self.blob_id = self.store.small_id()
        return data

    async def commit(self) -> str:
        """Make the blob durable and visible under ``blob_id``."""
        await self.finish()
        rest = b"".join(self._pending)
        try:
            if self._fh is None and len(rest) <= INLINE_MAX:  # small: group-committed with others
                self.closed = True
                self.blob_id = self.store.small_id()
                await self.store.put_small(self.blob_id, rest)
            else:
                await self.store.run(self._commit_sync, rest)
        except OSError as exc:
            raise Unavailable(f"blob store cannot write: {exc.strerror}") from None
        self._pending = []
        return self.blob_id

    def _commit_sync(self, rest: bytes) -> None:
        self._open_sync()
        if rest:
            self._write_lane([rest])
        os.fsync(self._fh.fileno())
        self._fh.close()
        self.closed = True
        final = self.store.path(self.blob_id)
        try:
            os.replace(self.tmp, final)
        except FileNotFoundError:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp, final)

    async def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._pending = []
        if self._inflight is not None:
            with contextlib.suppress(Exception):  # aborting anyway
                await self._inflight
        await self.store.run(self._abort_sync)

    def _abort_sync(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self.tmp.unlink(missing_ok=True)


class LocalBlobStore:
    def __init__(self, root: Path, threads: int = 32):
        self.root = Path(root)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="blob")
        self.blob_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._small: list[tuple[str, bytes, asyncio.Future[None]]] = []
        self._small_groups = 0
        self._drainers: set[asyncio.Task[None]] = set()  # the event loop keeps only weak references to tasks
        self._small_dir = ""
        self._small_left = 0

    def small_id(self) -> str:
        """A fresh id for a small blob (``take_small``, ``put_small``): random like any other, but
        ``SMALL_PER_DIR`` in a row share their directory. Creating a file in a directory that
        exists costs the file system's journal far less than creating the directory too (with
        65,536 directories, nearly every blob of a young store needs a new one), and a group of
        files in one directory dirties one directory block instead of one each. Directories still
        fill evenly: each run of ids goes to a random one."""
        if self._small_left <= 0:
            self._small_dir, self._small_left = random_hex()[:4], SMALL_PER_DIR
        self._small_left -= 1
        return self._small_dir + random_hex()[4:]

    async def put_small(self, blob_id: str, data: bytes) -> None:
        """Write a small blob and make it durable, group-committed: blobs that arrive while a group
        is being written go together in the next one, written into place by one thread
        call that ends with one ``syncfs`` (one journal commit for the group, where a ``fsync`` per
        file costs one each; the file system here manages about 600-1300 fsyncs/s). Up to
        ``SMALL_GROUPS`` groups are in flight at once. Returns once the blob is on disk."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._small.append((blob_id, data, future))
        if self._small_groups < SMALL_GROUPS:
            self._small_groups += 1
            task = asyncio.create_task(self._drain_small())
            self._drainers.add(task)
            task.add_done_callback(self._drainers.discard)
        await asyncio.shield(future)

    async def _drain_small(self) -> None:
        try:
            while self._small:
                group, self._small = self._small[:SMALL_GROUP], self._small[SMALL_GROUP:]
                try:
                    errors = await self.run(self.write_group_sync, [(b, d) for b, d, _ in group])
                except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                    errors = [exc] * len(group)
                for (_, _, future), error in zip(group, errors, strict=True):
                    if future.done():
                        continue
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
        finally:
            self._small_groups -= 1

    def write_group_sync(self, group: list[tuple[str, bytes]]) -> list[BaseException | None]:
        """Blocking: write small blobs, then make them all durable with one ``syncfs`` (a ``fsync``
        each where ``syncfs`` is missing). One error (or None) per blob; raises if the sync itself
        fails. Written straight to their final path (no temporary file and rename): the ids are
        fresh, and a blob is only referenced once its row commits, after this returns; a crash
        midway leaves an unreferenced file for the orphan sweep."""
        errors: list[BaseException | None] = []
        written: list[int] = []
        try:
            for blob_id, data in group:
                final = self.path(blob_id)
                try:
                    try:
                        fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    except FileNotFoundError:
                        final.parent.mkdir(parents=True, exist_ok=True)
                        fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    written.append(fd)
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    if _SYNCFS is None:
                        os.fsync(fd)
                    errors.append(None)
                except OSError as exc:
                    with contextlib.suppress(OSError):
                        final.unlink(missing_ok=True)
                    errors.append(exc)
            if written and _SYNCFS is not None and _SYNCFS(written[0]) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
        finally:
            for fd in written:
                os.close(fd)
        return errors

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking file work on the store's own threads (fsync waits must not starve other services)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def path(self, blob_id: str) -> Path:
        if len(blob_id) != 32 or not all(c in "0123456789abcdef" for c in blob_id):
            raise NotFound("blob not found")
        return self.blob_dir / blob_id[:2] / blob_id[2:4] / blob_id

    async def writer(self, *, checksums: Iterable[str] = ()) -> BlobWriter:
        return BlobWriter(self, checksums=checksums)

    async def read_all(self, blob_id: str, start: int = 0, end: int | None = None) -> bytes:
        """A small blob (or range): straight from the page cache when it is there (no thread hop),
        in one thread hop otherwise."""
        if end is not None and _RWF_NOWAIT is not None:
            cached = self._read_cached(blob_id, start, end - start + 1)
            if cached is not None:
                return cached
        return await self.run(self._read_all_sync, blob_id, start, end)

    def _read_cached(self, blob_id: str, start: int, length: int) -> bytes | None:
        """``preadv(RWF_NOWAIT)`` in the calling thread: it returns the bytes only if they are all in
        the page cache and fails with EAGAIN instead of waiting for the disk. None if anything is
        amiss (the caller then reads in a worker thread)."""
        if _RWF_NOWAIT is None:
            return None
        try:
            fd = os.open(self.path(blob_id), os.O_RDONLY)
        except (OSError, NotFound):
            return None
        try:
            buf = bytearray(length)
            n = os.preadv(fd, [buf], start, _RWF_NOWAIT)
        except OSError:
            return None
        finally:
            os.close(fd)
        return bytes(buf) if n == length else None

    def _read_all_sync(self, blob_id: str, start: int, end: int | None) -> bytes:
        fh = self._open(blob_id)
        with fh:
            if start:
                fh.seek(start)
            return fh.read(-1 if end is None else end - start + 1)

    async def read(self, blob_id: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` (inclusive; ``None`` = to the end). Opens before yielding, so a
        concurrent overwrite or delete never cuts a read short."""
        fh = await self.run(self._open, blob_id)
        return self._iterate(fh, start, end)

    def _open(self, blob_id: str) -> io.BufferedReader:
        try:
            return open(self.path(blob_id), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {blob_id} is missing") from None

    async def _iterate(self, fh: io.BufferedReader, start: int, end: int | None) -> AsyncIterator[bytes]:
        try:
            remaining = None if end is None else end - start + 1
            if start:
                fh.seek(start)
            while remaining is None or remaining > 0:
                size = CHUNK if remaining is None else min(CHUNK, remaining)
                data = await self.run(fh.read, size)
                if not data:
                    break
                if remaining is not None:
                    remaining -= len(data)
                yield data
        finally:
            fh.close()

    async def concat(self, blob_ids: list[str]) -> BlobWriter:
        """A new (uncommitted) blob holding the given blobs back to back (multipart completion)."""
        writer = await self.writer()
        try:
            await self.run(self._concat_sync, writer, blob_ids)
        except BaseException:
            await writer.abort()
            raise
        return writer

    def _concat_sync(self, writer: BlobWriter, blob_ids: list[str]) -> None:
        writer._open_sync()
        out = writer._fh
        for blob_id in blob_ids:
            with open(self.path(blob_id), "rb") as src:
                size = os.fstat(src.fileno()).st_size
                copied = 0
                try:
                    while copied < size:
                        n = os.copy_file_range(src.fileno(), out.fileno(), size - copied)
                        if n == 0:
                            break
                        copied += n
                except (AttributeError, OSError):
                    src.seek(copied)
                    out.seek(0, os.SEEK_END)
                    while chunk := src.read(CHUNK):
                        out.write(chunk)
                out.seek(0, os.SEEK_END)
            writer.size += size

    async def duplicate(self, blob_id: str) -> str:
        """A new blob id with the same bytes: a hard link (instant), or a copy across file systems."""
        new_id = random_hex()
        await self.run(self._duplicate_sync, blob_id, new_id)
        return new_id

    def _duplicate_sync(self, blob_id: str, new_id: str) -> None:
        src, dst = self.path(blob_id), self.path(new_id)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
            os.utime(dst)  # a fresh mtime: the orphan sweep gives new blobs a grace period
        except FileNotFoundError:
            raise NotFound(f"blob {blob_id} is missing") from None
        except OSError:
            tmp = self.tmp_dir / f"{new_id}.part"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)

    async def delete(self, *blob_ids: str | None) -> None:
        ids = [b for b in blob_ids if b]
        if ids:
            await self.run(self._delete_sync, ids)

    def _delete_sync(self, ids: list[str]) -> None:
        for blob_id in ids:
            try:
                self.path(blob_id).unlink(missing_ok=True)
            except (NotFound, OSError):
                pass

    def exists(self, blob_id: str) -> bool:
        try:
            return self.path(blob_id).exists()
        except NotFound:
            return False

    def clean_temp(self, older_than: float = 0) -> int:
        """Remove temporary files of writes that never finished (crash, killed client)."""
        removed = 0
        cutoff = time.time() - older_than
        for entry in os.scandir(self.tmp_dir):
            try:
                if entry.stat().st_mtime <= cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                pass
        return removed
