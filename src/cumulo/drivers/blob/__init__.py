"""Blob stores: where object bytes live. ``local`` (files under the data dir) is the default."""

from __future__ import annotations

from pathlib import Path

from cumulo.drivers.blob.local import BlobWriter, LocalBlobStore

__all__ = ["BlobWriter", "LocalBlobStore", "make_blob_store"]


def make_blob_store(data_dir: Path) -> LocalBlobStore:
    return LocalBlobStore(Path(data_dir) / "storage")
