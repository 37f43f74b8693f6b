"""Decoding ``Content-Encoding: aws-chunked`` bodies, as streams.

Each chunk is ``<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n``; a zero-size chunk ends the data
and may be followed by trailer headers (``x-amz-checksum-crc32:...``). With
``STREAMING-AWS4-HMAC-SHA256-PAYLOAD`` every chunk signature chains from the previous one (seeded by
the request signature) and is checked when its chunk ends. Data is yielded as it arrives; nothing
becomes visible before the whole body (and every signature) checked out, since the caller commits
the blob only after the stream ends cleanly.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator

from cumulo.services.storage.errors import S3Error

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_LINE = 4096


def _bad(message: str) -> S3Error:
    return S3Error("IncompleteBody", f"malformed aws-chunked body: {message}", 400)


class ChunkedDecoder:
    def __init__(self, *, signing_key: bytes | None = None, seed_signature: str = "", amz_date: str = "",
                 scope: str = ""):
        self.key = signing_key
        self.previous = seed_signature
        self.prefix = f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n"
        self.trailer_prefix = f"AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n"
        self.trailers: dict[str, str] = {}
        self._buf = bytearray()

    async def _fill(self, source: AsyncIterator[bytes]) -> bool:
        try:
            chunk = await source.__anext__()
        except StopAsyncIteration:
            return False
        self._buf += chunk
        return True

    async def _line(self, source: AsyncIterator[bytes]) -> str:
        while True:
            idx = self._buf.find(b"\r\n")
            if idx >= 0:
                line = bytes(self._buf[:idx])
                del self._buf[:idx + 2]
                return line.decode("latin-1")
            if len(self._buf) > MAX_LINE:
                raise _bad("chunk header too long")
            if not await self._fill(source):
                if self._buf:
                    raise _bad("unexpected end of body")
                raise _bad("missing final chunk")

    def _check(self, signature: str | None, digest: str) -> None:
        if self.key is None:
            return
        if not signature:
            raise S3Error("SignatureDoesNotMatch", "chunk signature missing", 403)
        expected = hmac.new(self.key, f"{self.prefix}{self.previous}\n{EMPTY_SHA256}\n{digest}".encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise S3Error("SignatureDoesNotMatch", "a chunk signature does not match", 403)
        self.previous = signature

    async def decode(self, source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        while True:
            header = await self._line(source)
            size_text, _, ext = header.partition(";")
            try:
                size = int(size_text.strip(), 16)
            except ValueError:
                raise _bad("bad chunk size") from None
            signature = ext.split("=", 1)[1].strip() if ext.startswith("chunk-signature=") else None
            hasher = hashlib.sha256() if self.key is not None else None
            remaining = size
            while remaining:
                if self._buf:
                    take = min(remaining, len(self._buf))
                    piece = bytes(self._buf[:take])
                    del self._buf[:take]
                else:  # straight from the received piece (sliced, i.e. copied, only where it crosses the chunk's end)
                    try:
                        received = await source.__anext__()
                    except StopAsyncIteration:
                        raise _bad("body ended inside a chunk") from None
                    if len(received) > remaining:
                        self._buf += memoryview(received)[remaining:]
                        piece = received[:remaining]
                    else:
                        piece = received
                remaining -= len(piece)
                if hasher is not None:
                    hasher.update(piece)
                yield piece
            self._check(signature, hasher.hexdigest() if hasher is not None else EMPTY_SHA256)
            if size == 0:
                await self._read_trailers(source)
                return
            if await self._line(source) != "":
                raise _bad("chunk data longer than its size")

    async def _read_trailers(self, source: AsyncIterator[bytes]) -> None:
        text = ""
        while True:
            try:
                line = await self._line(source)
            except S3Error:
                return  # no trailing CRLF: tolerated
            if line == "":
                return
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "x-amz-trailer-signature":
                if self.key is not None:
                    expected = hmac.new(self.key, (self.trailer_prefix + self.previous + "\n" +
                                                   hashlib.sha256(text.encode()).hexdigest()).encode(),
                                        hashlib.sha256).hexdigest()
                    if not hmac.compare_digest(expected, value.strip()):
                        raise S3Error("SignatureDoesNotMatch", "the trailer signature does not match", 403)
                continue
            self.trailers[name] = value.strip()
            text += f"{name}:{value.strip()}\n"
