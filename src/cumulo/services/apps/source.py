"""A pushed or uploaded tree, unpacked safely: the tar ``git archive`` wrote, or an uploaded tar,
tar.gz or zip, checked member by member.

Refused (the push fails with the reason): absolute paths and ``..``, symlinks that point outside
the tree (or at an absolute path), hard links, devices and FIFOs, a file larger than
``CUMULO_APPS_MAX_FILE_MB``, a tree larger than ``CUMULO_APPS_MAX_SOURCE_MB`` or with more than
``MAX_FILES`` files. A gzip that inflates past the tree cap stops there, and a zip whose entries
state more than the cap in all (overlapping entries: a zip bomb) is refused before anything is
written; each file's bytes are counted as they come out, whatever the archive says.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any, BinaryIO

from cumulo.core.errors import InvalidInput

MAX_FILES = 20000


class _Capped(io.RawIOBase):
    """A read-only stream that fails once more than ``limit`` bytes came out of it (a gzip bomb)."""

    def __init__(self, inner: BinaryIO, limit: int, cap_mb: int):
        self.inner, self.limit, self.cap_mb, self.seen = inner, limit, cap_mb, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        self.seen += len(data)
        if self.seen > self.limit:
            raise InvalidInput(f"the archive unpacks to more than {self.cap_mb} MB (CUMULO_APPS_MAX_SOURCE_MB)")
        buffer[:len(data)] = data
        return len(data)


class _Tree:
    """Writes checked entries under ``dest``: the caps and path rules shared by tar and zip."""

    def __init__(self, dest: Path, max_file: int, max_total: int):
        self.dest, self.max_file, self.max_total = dest, max_file, max_total
        self.total = self.count = 0
        dest.mkdir(parents=True, exist_ok=True)
        self.root = dest.resolve()

    def name(self, raw: str) -> str | None:
        """The entry's normalised relative name; None for the tree's root."""
        name = posixpath.normpath(raw)
        if raw.startswith("/") or name == ".." or name.startswith("../") or "\x00" in raw:
            raise InvalidInput(f"unsafe path in the repository: {raw[:200]!r}")
        if name in (".", "pax_global_header"):
            return None
        self.count += 1
        if self.count > MAX_FILES:
            raise InvalidInput(f"the repository has more than {MAX_FILES} files")
        return name

    def symlink(self, name: str, link: str) -> None:
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), link))
        if link.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise InvalidInput(f"symlink {name!r} points outside the repository ({link[:200]!r})")
        target = self.dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, target)

    def directory(self, name: str) -> None:
        (self.dest / name).mkdir(parents=True, exist_ok=True)

    def file(self, name: str, size: int, src: IO[bytes], executable: bool) -> None:
        self._size_ok(name, size, self.total + size)
        target = self.dest / name
        parent = target.parent
        parent.mkdir(parents=True, exist_ok=True)
        if not parent.resolve().is_relative_to(self.root) or target.is_symlink():
            raise InvalidInput(f"path {name!r} goes through a symlink")
        written = 0
        with open(target, "wb") as fh:
            while chunk := src.read(1 << 20):  # counted as read: a zip entry's stated size may lie
                written += len(chunk)
                self._size_ok(name, written, self.total + written)
                fh.write(chunk)
        self.total += written
        os.chmod(target, 0o755 if executable else 0o644)

    def _size_ok(self, name: str, size: int, total: int) -> None:
        if size > self.max_file:
            raise InvalidInput(f"file {name!r} is over {self.max_file // (1024 * 1024)} MB: files are at most "
                               f"{self.max_file // (1024 * 1024)} MB (CUMULO_APPS_MAX_FILE_MB)")
        if total > self.max_total:
            raise InvalidInput(f"the repository is larger than {self.max_total // (1024 * 1024)} MB "
                               "(CUMULO_APPS_MAX_SOURCE_MB)")

    def check_links(self) -> None:
        """Every symlink, read as the filesystem reads it once all are in place, stays in the tree
        (``a -> .`` then ``a/b -> ..`` is lexically inside and physically not)."""
        for path in self.dest.rglob("*"):
            if path.is_symlink() and not path.resolve().is_relative_to(self.root):
                raise InvalidInput(f"symlink {path.relative_to(self.dest).as_posix()!r} points outside the "
                                   "repository")


def kind(head: bytes) -> str | None:
    """``zip``, ``tar`` (plain or gzip) or None, from an archive's first 512 bytes."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b" or head[257:262] == b"ustar":
        return "tar"
    return None


def unpack(archive: Path, dest: Path, max_file: int, max_total: int) -> None:
    """Unpack a tar, tar.gz or zip ``archive`` into ``dest``, refusing what the module doc lists."""
    tree = _Tree(dest, max_file, max_total)
    with open(archive, "rb") as raw:
        is_zip = kind(raw.read(512)) == "zip"
    try:
        if is_zip:
            _unzip(archive, tree)
        else:
            _untar(archive, tree)
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            RuntimeError) as exc:
        raise InvalidInput(f"the pushed tree cannot be read: {exc}") from None
    tree.check_links()


def _untar(archive: Path, tree: _Tree) -> None:
    # headers and padding come on top of the files' bytes: a gzip that inflates past this is a bomb
    limit = tree.max_total + 1024 * (MAX_FILES + 64)
    with open(archive, "rb") as raw:
        head = raw.read(2)
        raw.seek(0)
        inner: BinaryIO = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw  # type: ignore[assignment]
        stream = io.BufferedReader(_Capped(inner, limit, tree.max_total // (1024 * 1024)))
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if member.type in (tarfile.XGLTYPE, tarfile.XHDTYPE):
                    continue
                name = tree.name(member.name)
                if name is None:
                    continue
                if member.issym():
                    tree.symlink(name, member.linkname)
                elif member.isdir():
                    tree.directory(name)
                elif member.isreg():
                    src = tar.extractfile(member)
                    assert src is not None
                    tree.file(name, member.size, src, bool(member.mode & 0o100))
                else:
                    raise InvalidInput(f"{name!r} is not a regular file, directory or symlink")


def _unzip(archive: Path, tree: _Tree) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_FILES:
            raise InvalidInput(f"the repository has more than {MAX_FILES} files")
        stated = sum(i.file_size for i in infos)  # overlapping entries (a zip bomb) add up here
        if stated > tree.max_total:
            raise InvalidInput(f"the archive unpacks to more than {tree.max_total // (1024 * 1024)} MB "
                               "(CUMULO_APPS_MAX_SOURCE_MB)")
        for info in infos:
            name = tree.name(info.filename)
            if name is None:
                continue
            mode = info.external_attr >> 16 if info.create_system == 3 else 0
            if stat.S_ISLNK(mode):
                if info.file_size > 4096:
                    raise InvalidInput(f"symlink {name!r} is too long")
                tree.symlink(name, zf.read(info).decode("utf-8", "replace"))
            elif info.is_dir():
                tree.directory(name)
            elif stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                raise InvalidInput(f"{name!r} is not a regular file, directory or symlink")
            else:
                with zf.open(info) as src:
                    tree.file(name, info.file_size, src, bool(mode & 0o100))


def add_tree(tar: tarfile.TarFile, root: Path, prefix: str, skip: set[str]) -> None:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/", 1)[0] in skip:
            continue
        info = tar.gettarinfo(str(path), arcname=f"{prefix}/{rel}" if prefix else rel)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        if info.isreg():
            with open(path, "rb") as fh:
                tar.addfile(info, fh)
        else:
            tar.addfile(info)


def context(dockerfile: str, trees: list[tuple[Path, str, set[str]]], extra: dict[str, str] | None = None) -> bytes:
    """A build context: the Dockerfile, each (directory, prefix in the context, names skipped at its
    top) and small generated files; fixed owners and times, so unchanged files keep their layer."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in {"Dockerfile": dockerfile, **(extra or {})}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for root, prefix, skip in trees:
            if prefix:
                info = tarfile.TarInfo(prefix)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            add_tree(tar, root, prefix, skip)
    return buf.getvalue()
