"""Function code: a zip checked for zip-slip, links and zip bombs, unpacked into the data dir.

The unpacked tree is what the containers mount read-only at /var/task, one folder per version.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from cumulo.core.errors import InvalidInput, PayloadTooLarge

MAX_ENTRIES = 10_000
MAX_NAME_BYTES = 255  # one file or folder name (the file system's limit)
MAX_PATH_BYTES = 1024  # a whole entry path
MAX_RATIO = 200  # uncompressed / compressed, per entry: beyond it the zip is treated as a bomb
_PY_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\.[A-Za-z_][A-Za-z0-9_]*$")
_NODE_HANDLER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-/]*\.[A-Za-z_$][A-Za-z0-9_$]*$")


def root(data_dir: Path) -> Path:
    return Path(data_dir) / "functions" / "code"


def version_dir(data_dir: Path, function_id: str, version: int) -> Path:
    return root(data_dir) / function_id / str(version)


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or any(p == ".." for p in path.parts) \
            or "\x00" in name:
        raise InvalidInput(f"unsafe path in zip: {name[:100]!r}")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES or \
            any(len(p.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for p in path.parts):
        raise InvalidInput(f"zip entry name too long: {name[:60]!r}... (a file or folder name may have at most "
                           f"{MAX_NAME_BYTES} bytes, a whole path {MAX_PATH_BYTES})")
    return path


def check(data: bytes, max_zip: int, max_unzipped: int) -> zipfile.ZipFile:
    """Open and vet the archive without extracting anything."""
    if len(data) > max_zip:
        raise PayloadTooLarge(f"code zip is larger than {max_zip} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise InvalidInput(f"code is not a valid zip archive: {exc}") from None
    if len(entries) > MAX_ENTRIES:
        raise InvalidInput(f"code zip has more than {MAX_ENTRIES} entries")
    total = 0
    for info in entries:
        _safe_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise InvalidInput(f"symbolic links are not allowed in code zips: {info.filename!r}")
        if info.flag_bits & 0x1:
            raise InvalidInput("encrypted zip entries are not supported")
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise InvalidInput(f"zip entry {info.filename!r} expands suspiciously (zip bomb?)")
    if total > max_unzipped:
        raise PayloadTooLarge(f"unzipped code would exceed {max_unzipped} bytes")
    if not any(not i.is_dir() for i in entries):
        raise InvalidInput("code zip is empty")
    return archive


def files_of(archive: zipfile.ZipFile) -> set[str]:
    return {str(_safe_name(i.filename)) for i in archive.infolist() if not i.is_dir()}


def files_in(directory: Path) -> set[str]:
    return {str(p.relative_to(directory).as_posix()) for p in Path(directory).rglob("*") if p.is_file()}


def check_handler(kind: str, handler: str, files: set[str]) -> None:
    """The handler names a file of the zip: Python ``pkg.module.function``, Node ``path/file.export``."""
    if kind == "python":
        if not _PY_HANDLER.match(handler):
            raise InvalidInput("handler must look like 'module.function' (e.g. 'main.handler')")
        module = handler.rsplit(".", 1)[0].replace(".", "/")
        if f"{module}.py" not in files and f"{module}/__init__.py" not in files:
            raise InvalidInput(f"handler module '{module}.py' is not in the code zip")
    else:
        if not _NODE_HANDLER.match(handler) or ".." in handler:
            raise InvalidInput("handler must look like 'file.export' (e.g. 'index.handler')")
        base = handler.rsplit(".", 1)[0]
        if not any(f"{base}{ext}" in files for ext in (".js", ".mjs", ".cjs")):
            raise InvalidInput(f"handler file '{base}.js' (or .mjs/.cjs) is not in the code zip")


def extract(archive: zipfile.ZipFile, target: Path, max_unzipped: int) -> None:
    """Unpack into ``target`` (created fresh), counting the bytes really written: headers can lie."""
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]  # removed again on failure
    tmp.mkdir(parents=True, mode=0o755)
    os.chmod(tmp, 0o755)
    written = 0
    try:
        for info in archive.infolist():
            rel = _safe_name(info.filename)
            dest = tmp.joinpath(*rel.parts)
            if not dest.resolve().is_relative_to(tmp.resolve()):
                raise InvalidInput(f"unsafe path in zip: {info.filename!r}")
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True, mode=0o755)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            with archive.open(info) as src, open(dest, "wb") as out:
                while chunk := src.read(1 << 16):
                    written += len(chunk)
                    if written > max_unzipped:
                        raise PayloadTooLarge(f"unzipped code exceeds {max_unzipped} bytes")
                    out.write(chunk)
            executable = (info.external_attr >> 16) & 0o111
            os.chmod(dest, 0o755 if executable else 0o644)
        for dirpath, _dirs, _files in os.walk(tmp):
            os.chmod(dirpath, 0o755)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
        _undo(tmp, made)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)  # never a server path
        raise InvalidInput(f"code zip could not be unpacked: {reason}") from None
    except BaseException:
        _undo(tmp, made)
        raise


def _undo(tmp: Path, made: list[Path]) -> None:
    """Remove the partial tree and the folders this extraction created (when still empty)."""
    shutil.rmtree(tmp, ignore_errors=True)
    for folder in made:  # innermost first
        try:
            folder.rmdir()
        except OSError:
            break


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def remove_function(data_dir: Path, function_id: str) -> None:
    shutil.rmtree(root(data_dir) / function_id, ignore_errors=True)
