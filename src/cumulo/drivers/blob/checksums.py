"""The x-amz-checksum-* algorithms, incremental, with values in S3's wire form: base64 of the
big-endian digest. CRC32C and CRC64/NVME come from awscrt (hardware-assisted), the rest from the
standard library."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable

from awscrt import checksums as crt

ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
_CRCS: dict[str, tuple[Callable[[bytes, int], int], int]] = {
    "crc32": (zlib.crc32, 4),
    "crc32c": (crt.crc32c, 4),
    "crc64nvme": (crt.crc64nvme, 8),
}


class Checksum:
    """One running checksum: ``update`` with the body's chunks in order, then read ``b64``."""

    def __init__(self, algorithm: str):
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown checksum algorithm {algorithm!r}")
        self.algorithm = algorithm
        self._crc = 0
        self._hash = hashlib.new(algorithm) if algorithm in ("sha1", "sha256") else None

    def update(self, data: bytes) -> None:
        if self._hash is not None:
            self._hash.update(data)
        else:
            self._crc = _CRCS[self.algorithm][0](data, self._crc)

    def digest(self) -> bytes:
        if self._hash is not None:
            return self._hash.digest()
        return self._crc.to_bytes(_CRCS[self.algorithm][1], "big")

    @property
    def b64(self) -> str:
        return base64.b64encode(self.digest()).decode()


def of(algorithm: str, data: bytes) -> str:
    """The wire value of ``algorithm`` over ``data`` in one go."""
    c = Checksum(algorithm)
    c.update(data)
    return c.b64
