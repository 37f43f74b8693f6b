"""One S3 request: addressing (path-style or virtual-hosted-style), authentication, and the body
as a verified stream (plain, signed-hex, unsigned or aws-chunked)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.types import Receive, Scope

from cumulo.core.clock import utcnow
from cumulo.drivers.blob import checksums
from cumulo.platform import Platform
from cumulo.services.storage import credentials
from cumulo.services.storage.errors import S3Error
from cumulo.services.storage.objects import Checks
from cumulo.services.storage.s3 import sigv2, sigv4
from cumulo.services.storage.s3.chunked import ChunkedDecoder

CHECKSUM_ALGOS = checksums.ALGORITHMS


class S3Request:
    def __init__(self, platform: Platform, scope: Scope, receive: Receive):
        self.platform = platform
        self.scope = scope
        self._receive = receive
        self.method: str = scope["method"]
        self.raw_path: str = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        raw_query = scope.get("query_string", b"").decode("latin-1")
        self.query: list[tuple[str, str]] = parse_qsl(raw_query, keep_blank_values=True)
        self.params: dict[str, str] = dict(self.query)
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            val = value.decode("latin-1")
            headers[key] = f"{headers[key]},{val}" if key in headers else val
        self.headers = headers
        self.virtual_host = False
        path = unquote(self.raw_path)
        if "\x00" in path or any("\x00" in k or "\x00" in v for k, v in self.query):
            raise S3Error("InvalidURI", "Couldn't parse the specified URI.", 400)
        self.bucket, self.key = self._address(path)
        self.user_id: str | None = None
        self.bucket_row: Any = None
        self.claim: sigv4.Claim | None = None
        self.signing_key: bytes | None = None
        self._consumed = False
        self._finished = False

    def _address(self, path: str) -> tuple[str | None, str | None]:
        host = self.headers.get("host", "").rsplit(":", 1)[0].lower() if "]" not in self.headers.get("host", "") \
            else ""
        domain = self.platform.settings.s3_domain.lower().strip(".")
        if domain and host.endswith("." + domain):
            self.virtual_host = True
            return host[: -len(domain) - 1], (path[1:] or None)
        parts = path[1:].split("/", 1) if path.startswith("/") else [path]
        bucket = parts[0] or None
        key = parts[1] if len(parts) > 1 and parts[1] != "" else None
        return bucket, key

    async def authenticate(self) -> None:
        if self.headers.get("authorization", "").startswith("AWS ") or "AWSAccessKeyId" in self.params:
            return await self._authenticate_v2()
        claim = sigv4.parse(self.method, self.headers, self.query)
        if claim is None:
            return
        sigv4.check_time(claim, utcnow())
        resolved = await credentials.resolve(self.platform, claim.access_key)
        if resolved is None:
            raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                          403)
        self.signing_key = sigv4.verify(claim, resolved.secret, self.method, self.raw_path, self.query, self.headers)
        self.claim = claim
        self.user_id = resolved.user_id

    async def _authenticate_v2(self) -> None:
        claim = sigv2.parse(self.headers, self.params)
        if claim is None:
            return
        sigv2.check_time(claim, self.headers)
        resolved = await credentials.resolve(self.platform, claim.access_key)
        if resolved is None:
            raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                          403)
        sigv2.verify(claim, resolved.secret, self.method, self.raw_path, self.query, self.headers,
                     self.bucket if self.virtual_host else None)
        self.user_id = resolved.user_id

    # --- body --------------------------------------------------------------------------
    async def _raw(self) -> AsyncIterator[bytes]:
        if self._consumed:
            return
        self._consumed = True
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise S3Error("IncompleteBody", "the client disconnected before the body was complete", 400)
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                self._finished = True
                return

    @property
    def body_consumed(self) -> bool:
        return self._consumed and self._finished

    def checks(self) -> Checks:
        """What the headers promise about the body (verified by ``objects.receive``)."""
        h = self.headers
        checks = Checks()
        payload = self.claim.payload if self.claim else h.get("x-amz-content-sha256", "")
        if self.claim and len(payload) == 64 and payload not in (sigv4.UNSIGNED,):
            checks.sha256_hex = payload
        length = h.get("x-amz-decoded-content-length") if self._is_chunked() else h.get("content-length")
        if length is not None:
            try:
                checks.size = int(length)
            except ValueError:
                raise S3Error("InvalidArgument", "invalid content length", 400) from None
            if checks.size < 0:
                raise S3Error("InvalidArgument", "invalid content length", 400)
        elif self._is_chunked() and self.method == "PUT":
            raise S3Error("MissingContentLength", "x-amz-decoded-content-length is required", 411)
        if "content-md5" in h:
            try:
                checks.md5 = base64.b64decode(h["content-md5"], validate=True)
            except (binascii.Error, ValueError):
                checks.md5 = b""
            if len(checks.md5) != 16:
                raise S3Error("InvalidDigest", "the Content-MD5 you specified is not valid", 400)
        for algo in CHECKSUM_ALGOS:
            value = h.get(f"x-amz-checksum-{algo}")
            if value:
                checks.checksums[algo] = value
        for name in h.get("x-amz-trailer", "").split(","):
            name = name.strip().lower()
            if name.startswith("x-amz-checksum-"):
                algorithm = name[len("x-amz-checksum-"):]
                if algorithm not in CHECKSUM_ALGOS:
                    raise S3Error("InvalidRequest", f"unsupported checksum algorithm {algorithm!r}", 400)
                checks.wants.add(algorithm)
        return checks

    def _is_chunked(self) -> bool:
        payload = self.claim.payload if self.claim else self.headers.get("x-amz-content-sha256", "")
        return payload.startswith("STREAMING-") or "aws-chunked" in self.headers.get("content-encoding", "")

    def body(self, checks: Checks) -> AsyncIterator[bytes]:
        """The decoded body. Trailer checksums land in ``checks`` when the stream ends."""
        if not self._is_chunked():
            return self._raw()
        claim = self.claim
        signed = claim is not None and claim.payload in (sigv4.STREAMING, sigv4.STREAMING_TRAILER)
        decoder = ChunkedDecoder(signing_key=self.signing_key if signed else None,
                                 seed_signature=claim.signature if claim else "",
                                 amz_date=claim.amz_date if claim else "", scope=claim.scope if claim else "")
        return _with_trailers(decoder, self._raw(), checks)

    async def read_small(self, limit: int = 1024 * 1024) -> bytes:
        data = bytearray()
        async for chunk in self.body(Checks()):
            data += chunk
            if len(data) > limit:
                raise S3Error("MaxMessageLengthExceeded", f"request body is larger than {limit} bytes", 400)
        return bytes(data)

    def header_bool(self, name: str) -> bool:
        return self.headers.get(name, "").lower() == "true"

    def int_param(self, name: str, default: int, low: int = 0, high: int = 1000) -> int:
        value: Any = self.params.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise S3Error("InvalidArgument", f"{name} must be an integer", 400) from None
        if number < low:
            raise S3Error("InvalidArgument", f"{name} must be at least {low}", 400)
        return min(number, high)


async def _with_trailers(decoder: ChunkedDecoder, source: AsyncIterator[bytes], checks: Checks) -> AsyncIterator[bytes]:
    async for piece in decoder.decode(source):
        yield piece
    for name, value in decoder.trailers.items():
        if name.startswith("x-amz-checksum-"):
            checks.checksums[name[len("x-amz-checksum-"):]] = value
