"""The unpacker on its own (no server): tar, tar.gz and zip, and every refusal."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from cumulo.core.errors import InvalidInput
from cumulo.services.apps import source
from tests.services.apps.conftest import zip_of

MB = 1024 * 1024


def _tar(entries: list[tarfile.TarInfo | tuple[str, bytes]], gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tar.addfile(info, io.BytesIO(entry[1]))
    return buf.getvalue()


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


def _unpack(tmp_path: Path, data: bytes, max_file: int = MB, max_total: int = 4 * MB) -> Path:
    archive = tmp_path / "upload"
    archive.write_bytes(data)
    dest = tmp_path / "out"
    source.unpack(archive, dest, max_file, max_total)
    return dest


@pytest.mark.parametrize("fmt", ["tar", "tar.gz", "zip"])
def test_a_plain_tree_unpacks(tmp_path: Path, fmt: str) -> None:
    files = [("index.html", b"<p>hi</p>"), ("sub/app.py", b"print(1)\n")]
    data = zip_of(dict(files), {"link.html": "index.html"}) if fmt == "zip" else \
        _tar([*files, _link("link.html", "index.html")], gz=fmt == "tar.gz")
    assert source.kind(data[:512]) == ("zip" if fmt == "zip" else "tar")
    out = _unpack(tmp_path, data)
    assert (out / "sub/app.py").read_text() == "print(1)\n"
    assert (out / "link.html").is_symlink() and (out / "link.html").read_text() == "<p>hi</p>"


@pytest.mark.parametrize("name", ["../evil", "/etc/evil", "a/../../evil"])
@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_escaping_names_are_refused(tmp_path: Path, fmt: str, name: str) -> None:
    data = zip_of({name: b"x"}) if fmt == "zip" else _tar([(name, b"x")])
    with pytest.raises(InvalidInput, match="unsafe path"):
        _unpack(tmp_path, data)
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_symlinks_out_of_the_tree_are_refused(tmp_path: Path, fmt: str) -> None:
    for target in ("/etc/passwd", "../../outside"):
        data = zip_of({}, {"l": target}) if fmt == "zip" else _tar([_link("l", target)])
        with pytest.raises(InvalidInput, match="points outside"):
            _unpack(tmp_path, data)


def test_a_link_chain_that_leaves_the_tree_only_physically_is_refused(tmp_path: Path) -> None:
    # "a -> ." then "a/b -> ..": each is inside as written, but a/b is the tree's parent on disk
    data = _tar([_link("a", "."), _link("a/b", "..")])
    with pytest.raises(InvalidInput, match="points outside"):
        _unpack(tmp_path, data)


def test_size_caps(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="CUMULO_APPS_MAX_FILE_MB"):
        _unpack(tmp_path, zip_of({"big.bin": b"0" * (MB + 1)}))
    with pytest.raises(InvalidInput, match="CUMULO_APPS_MAX_SOURCE_MB"):
        _unpack(tmp_path, _tar([(f"f{i}", b"0" * (MB - 1)) for i in range(5)], gz=True))


def test_a_zip_bomb_is_refused_before_writing(tmp_path: Path) -> None:
    # 50 entries of 1 MB zeros each (a few KB compressed): over the 4 MB tree cap by what they state
    with pytest.raises(InvalidInput, match="unpacks to more than"):
        _unpack(tmp_path, zip_of({f"z{i}": b"\0" * (MB - 1) for i in range(50)}))
    assert not list((tmp_path / "out").iterdir())


def test_a_gzip_bomb_stops_at_the_cap(tmp_path: Path) -> None:
    # a pax header that states 60 MB (tarfile would read it whole into memory), in a small gzip
    pax = tarfile.TarInfo("pax")
    pax.type, pax.size = tarfile.XGLTYPE, 60 * MB
    header = pax.tobuf(format=tarfile.USTAR_FORMAT)
    stream = io.BytesIO()
    with gzip.GzipFile(fileobj=stream, mode="wb") as gz:
        gz.write(header)
        for _ in range(64):
            gz.write(b"\0" * MB)
    assert len(stream.getvalue()) < MB
    with pytest.raises(InvalidInput, match="unpacks to more than 8 MB"):
        _unpack(tmp_path, stream.getvalue(), max_file=64 * MB, max_total=8 * MB)


def test_devices_and_hard_links_are_refused(tmp_path: Path) -> None:
    hard = tarfile.TarInfo("h")
    hard.type, hard.linkname = tarfile.LNKTYPE, "index.html"
    with pytest.raises(InvalidInput, match="not a regular file"):
        _unpack(tmp_path, _tar([("index.html", b"x"), hard]))


def test_garbage_is_a_clear_error(tmp_path: Path) -> None:
    assert source.kind(b"hello") is None
    with pytest.raises(InvalidInput, match="cannot be read"):
        _unpack(tmp_path, b"PK\x03\x04 not really a zip")
