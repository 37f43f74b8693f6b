"""Disk images with ``qemu-img``: create, inspect, resize, convert (with progress), compare.

Every call names the format (``-f``) so a raw file is never probed as something else, and
``inspect`` refuses what could make QEMU read other host files: a backing file, an external data
file (qcow2), extents in other files (vmdk) or a format outside the ones Cumulo serves."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cumulo.core.errors import InvalidInput, Unavailable

FORMATS = ("qcow2", "raw", "vmdk", "vdi")
UPLOAD_FORMATS = ("qcow2", "raw")
PROGRESS = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


async def _qemu_img(*args: str, on_output: Callable[[bytes], None] | None = None) -> str:
    try:
        proc = await asyncio.create_subprocess_exec("qemu-img", *args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
    except FileNotFoundError as exc:
        raise Unavailable("qemu-img is not installed (scripts/ensure-qemu.sh)") from exc
    assert proc.stdout is not None
    out = b""
    while chunk := await proc.stdout.read(4096):
        out += chunk
        if on_output is not None:
            on_output(chunk)
    err = await proc.stderr.read() if proc.stderr else b""
    if await proc.wait() != 0:
        raise InvalidInput(f"qemu-img {args[0]}: {err.decode(errors='replace').strip()[-300:]}")
    return out.decode(errors="replace")


async def create(path: Path, fmt: str, size_bytes: int) -> None:
    await _qemu_img("create", "-q", "-f", fmt, str(path), str(size_bytes))


async def info(path: Path, fmt: str | None = None) -> dict[str, Any]:
    args = ["info", "--output=json"] + (["-f", fmt] if fmt else []) + [str(path)]
    return json.loads(await _qemu_img(*args))  # type: ignore[no-any-return]


async def inspect(path: Path) -> dict[str, Any]:
    """``qemu-img info`` of an uploaded image, refused (400) when it is not self-contained."""
    found = await info(path)
    fmt = found.get("format")
    if fmt == "iso":
        fmt = found["format"] = "raw"
    if fmt not in UPLOAD_FORMATS:
        raise InvalidInput(f"an uploaded image must be one of {', '.join(UPLOAD_FORMATS)} (this one is {fmt})")
    if found.get("backing-filename") or found.get("full-backing-filename") or found.get("backing-filename-format"):
        raise InvalidInput("the image names a backing file: only self-contained images are accepted",
                           details={"backing_file": found.get("backing-filename")})
    data = (found.get("format-specific") or {}).get("data") or {}
    if data.get("data-file") or data.get("data-file-raw"):
        raise InvalidInput("the image uses an external data file: only self-contained images are accepted")
    return found


async def resize(path: Path, fmt: str, size_bytes: int, shrink: bool) -> None:
    await _qemu_img("resize", "-q", "-f", fmt, *(["--shrink"] if shrink else []), str(path), str(size_bytes))


async def convert(src: Path, src_fmt: str, dst: Path, dst_fmt: str,
                  progress: Callable[[float], None] | None = None) -> None:
    def seen(chunk: bytes) -> None:
        hits = PROGRESS.findall(chunk)
        if hits and progress is not None:
            progress(float(hits[-1]))

    await _qemu_img("convert", "-p", "-f", src_fmt, "-O", dst_fmt, str(src), str(dst), on_output=seen)


async def snapshot(path: Path, action: str, name: str) -> None:
    """``qemu-img snapshot`` of a qcow2 file: ``-c`` create, ``-a`` apply (revert), ``-d`` delete."""
    if action not in ("-c", "-a", "-d"):
        raise ValueError(action)
    # no -f for this subcommand: the format is fixed by --image-opts (never probed)
    await _qemu_img("snapshot", "-q", action, name, "--image-opts", f"driver=qcow2,file.filename={path}")


async def identical(a: Path, a_fmt: str, b: Path, b_fmt: str) -> bool:
    try:
        await _qemu_img("compare", "-q", "-f", a_fmt, "-F", b_fmt, str(a), str(b))
    except InvalidInput:
        return False
    return True
