"""Checksum algorithms against published check values and against botocore's own implementation."""

from __future__ import annotations

import base64

import pytest

from cumulo.drivers.blob import checksums

# The CRC catalogue's check values (input "123456789"), and the SHA test vectors.
CHECK = {
    "crc32": "cbf43926",
    "crc32c": "e3069283",
    "crc64nvme": "ae8b14860a799888",
    "sha1": "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
    "sha256": "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
}


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
def test_check_values(algorithm: str) -> None:
    assert base64.b64decode(checksums.of(algorithm, b"123456789")).hex() == CHECK[algorithm]


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
def test_incremental_equals_one_shot(algorithm: str) -> None:
    data = bytes(range(256)) * 1000
    running = checksums.Checksum(algorithm)
    for i in range(0, len(data), 7777):
        running.update(data[i:i + 7777])
    assert running.b64 == checksums.of(algorithm, data)


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError):
        checksums.Checksum("md4")
