"""The x-amz-checksum-* algorithms, incremental, with values in S3's wire form: base64 of the
big-endian digest. CRC32C and CRC64/NVME come from awscrt (hardware-assisted), the rest from the
standard library."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from functools import lru_cache

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


# --- full-object CRCs of multipart objects ------------------------------------------------------------
# A CRC of A+B follows from the CRCs of A and B and B's length: crc(A+B) = crc(A) * x^(8*len(B)) + crc(B)
# (mod the CRC's polynomial). The initial and final XOR terms cancel because all three CRCs use the
# same all-ones value for both. Values are in the reflected bit order these CRCs compute in.
# The top bit is the coefficient of x^0, and multiplying by x is a right shift that folds the
# polynomial back in.
FULL_OBJECT = ("crc32", "crc32c", "crc64nvme")
_REFLECTED = {"crc32": (0xEDB88320, 32), "crc32c": (0x82F63B78, 32), "crc64nvme": (0x9A6C9329AC4BC9B5, 64)}


def _multiply(a: int, b: int, poly: int, width: int) -> int:
    """a * b mod the polynomial, both in reflected order."""
    product = 0
    for bit in range(width - 1, -1, -1):  # a's coefficients of x^0, x^1, ... in turn
        if a >> bit & 1:
            product ^= b
        b = (b >> 1) ^ poly if b & 1 else b >> 1  # b * x
    return product


@lru_cache(maxsize=64)  # a multipart object's parts mostly share one size
def _x_power(exponent: int, poly: int, width: int) -> int:
    """x^exponent mod the polynomial (square and multiply), reflected."""
    result, square = 1 << (width - 1), 1 << (width - 2)  # x^0 and x^1
    while exponent:
        if exponent & 1:
            result = _multiply(result, square, poly, width)
        square = _multiply(square, square, poly, width)
        exponent >>= 1
    return result


def combine(algorithm: str, first: str, second: str, second_length: int) -> str:
    """The wire value of ``algorithm`` over A then B, from A's and B's wire values and B's length
    in bytes (CRCs only: see ``FULL_OBJECT``)."""
    poly, width = _REFLECTED[algorithm]
    a = int.from_bytes(base64.b64decode(first), "big")
    b = int.from_bytes(base64.b64decode(second), "big")
    value = _multiply(_x_power(8 * second_length, poly, width), a, poly, width) ^ b
    return base64.b64encode(value.to_bytes(width // 8, "big")).decode()
