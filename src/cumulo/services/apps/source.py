"""A pushed tree, unpacked safely: the tar ``git archive`` wrote, checked member by member.

Refused (the push fails with the reason): absolute paths and ``..``, symlinks that point outside
the tree (or at an absolute path), hard links, devices and FIFOs, a file larger than
``CUMULO_APPS_MAX_FILE_MB``, a tree larger than ``CUMULO_APPS_MAX_SOURCE_MB`` or with more than
``MAX_FILES`` files.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from pathlib import Path

from cumulo.core.errors import InvalidInput

MAX_FILES = 20000


def unpack(archive: Path, dest: Path, max_file: int, max_total: int) -> None:
    total = 0
    count = 0
    dest.mkdir(parents=True, exist_ok=True)
    try:
        tar = tarfile.open(archive, mode="r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as exc:
        raise InvalidInput(f"the pushed tree cannot be read: {exc}") from None
    with tar:
        for member in tar:
            name = posixpath.normpath(member.name)
            if member.name.startswith("/") or name == ".." or name.startswith("../"):
                raise InvalidInput(f"unsafe path in the repository: {member.name[:200]!r}")
            if name in (".", "pax_global_header") or member.type == tarfile.XGLTYPE:
                continue
            count += 1
            if count > MAX_FILES:
                raise InvalidInput(f"the repository has more than {MAX_FILES} files")
            target = dest / name
            if member.issym():
                link = member.linkname
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), link))
                if link.startswith("/") or resolved == ".." or resolved.startswith("../"):
                    raise InvalidInput(f"symlink {name!r} points outside the repository ({link[:200]!r})")
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(link, target)
            elif member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isreg():
                if member.size > max_file:
                    raise InvalidInput(f"file {name!r} is {member.size / (1024 * 1024):.1f} MB: files are at most "
                                       f"{max_file // (1024 * 1024)} MB (CUMULO_APPS_MAX_FILE_MB)")
                total += member.size
                if total > max_total:
                    raise InvalidInput(f"the repository is larger than {max_total // (1024 * 1024)} MB "
                                       "(CUMULO_APPS_MAX_SOURCE_MB)")
                parent = target.parent
                parent.mkdir(parents=True, exist_ok=True)
                if parent.resolve() != parent.absolute() and not parent.resolve().is_relative_to(dest.resolve()):
                    raise InvalidInput(f"path {name!r} goes through a symlink out of the repository")
                src = tar.extractfile(member)
                assert src is not None
                with open(target, "wb") as fh:
                    fh.write(src.read())
                os.chmod(target, 0o755 if member.mode & 0o100 else 0o644)
            else:
                raise InvalidInput(f"{name!r} is not a regular file, directory or symlink")


def _add_tree(tar: tarfile.TarFile, root: Path, prefix: str, skip: set[str]) -> None:
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
            _add_tree(tar, root, prefix, skip)
    return buf.getvalue()
