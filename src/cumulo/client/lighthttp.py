"""A small HTTP/1.1 client over the standard library's sockets, for the CLI.

``import httpx`` costs about a tenth of a second (its models, ``http.client``, ``email``, ``idna``),
more than a CLI command that sends one request may take in all. ``Client`` here has the part of
``httpx.Client``'s interface the SDK uses (``request``, ``stream``, ``get``, ``close``, ``base_url``) and
its behaviour: requests written as httpx writes them (``httprequest``), one keep-alive connection,
gzip/deflate answers decoded (``httpwire``), no redirects followed, the same timeout for connecting,
each read and each write, TLS verified with ``SSL_CERT_FILE``/``SSL_CERT_DIR`` or certifi's bundle,
and the failures raised as exceptions named as httpx names them (``ConnectError``, ``ReadTimeout``...,
from ``httperrors``, importable from here too), so the SDK reports them the same. It keeps no cookies
(the API authenticates by key).

``for_environment`` returns ``None`` when a proxy is set in the environment (``HTTP_PROXY``,
``HTTPS_PROXY``, ``ALL_PROXY``): the SDK then uses httpx, whose proxy and ``NO_PROXY`` handling
stays the only one.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Self

from cumulo.client import httprequest, httpwire
from cumulo.client.httperrors import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from cumulo.client.httprequest import USER_AGENT
from cumulo.client.httpwire import CHUNK, MAX_HEADERS, MAX_LINE, Connection, Headers

if TYPE_CHECKING:
    from ssl import SSLContext

__all__ = [
    "CHUNK", "MAX_HEADERS", "MAX_LINE", "USER_AGENT", "Client", "ConnectError", "ConnectTimeout", "Headers",
    "ReadError", "ReadTimeout", "RemoteProtocolError", "Response", "TransportError", "UnsupportedProtocol",
    "WriteError", "WriteTimeout", "for_environment",
]

_DEFAULT = object()
_NEWLINES = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits on


def for_environment(base_url: str, timeout: float | None = 30.0) -> Client | None:
    """A light client for ``base_url``, or None when httpx must serve (a proxy is configured)."""
    for name, value in os.environ.items():
        if value and name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            return None
    return Client(base_url, timeout=timeout)


class Response:
    """An answer: ``status_code``, ``headers``, then the body read whole (``read``, ``content``, ``text``,
    ``json``) or as it arrives (``iter_bytes``, ``iter_lines``) when it came from ``Client.stream``."""

    def __init__(self, status_code: int, reason: str, headers: Headers, body: Iterator[bytes],
                 release: Any = None):
        self.status_code, self.reason_phrase, self.headers = status_code, reason, headers
        self._body = body
        self._content: bytes | None = None
        self._release = release
        self._consumed = False

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RuntimeError("the streamed answer was not read: call read() first")
        return self._content

    @property
    def encoding(self) -> str:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip('"\'')
        return "utf-8"

    @property
    def text(self) -> str:
        try:
            return self.content.decode(self.encoding, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self, **kwargs: Any) -> Any:
        return jsonlib.loads(self.content, **kwargs)

    def read(self) -> bytes:
        if self._content is None:
            self._content = b"".join(self.iter_bytes())
        return self._content

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        if self._content is not None:
            step = chunk_size or len(self._content) or 1
            yield from (self._content[i:i + step] for i in range(0, len(self._content), step))
            return
        if self._consumed:
            raise RuntimeError("the streamed answer was already read")
        self._consumed = True
        pending = b""
        try:
            for chunk in self._body:
                if not chunk_size:
                    yield chunk
                    continue
                pending += chunk
                while len(pending) >= chunk_size:
                    yield pending[:chunk_size]
                    pending = pending[chunk_size:]
            if pending:
                yield pending
        finally:
            self.close()

    def iter_text(self) -> Iterator[str]:
        import codecs

        decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        for chunk in self.iter_bytes():
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    def iter_lines(self) -> Iterator[str]:
        """The body's lines as they arrive, without their ends (``\\n``, ``\\r\\n`` or ``\\r``), as httpx."""
        pending = ""
        for text in self.iter_text():
            pending += text
            cr = pending.endswith("\r")  # may be the first half of "\r\n": decided with the next text
            if cr:
                pending = pending[:-1]
            lines = pending.splitlines()
            pending = "" if not pending or pending[-1] in _NEWLINES else lines.pop()
            if cr:
                pending += "\r"
            yield from lines
        if pending:
            yield pending.rstrip("\r")

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release(self)

    def __repr__(self) -> str:
        return f"<Response [{self.status_code} {self.reason_phrase}]>"


class Client:
    """See the module's text. ``base_url`` may be reassigned."""

    errors = (TransportError,)

    def __init__(self, base_url: str = "", timeout: float | None = 30.0, headers: Mapping[str, str] | None = None):
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.base_url = base_url
        self._conn: Connection | None = None
        self._ssl: SSLContext | None = None

    @property
    def base_url(self) -> str:
        return self._base_url

    @base_url.setter
    def base_url(self, value: Any) -> None:
        self._base_url = str(value)

    def _connect(self, scheme: str, host: str, port: int, timeout: float | None) -> Connection:
        """The kept connection if it serves (same server, still open), else a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            if conn.key == (scheme, host, port) and conn.reusable and not conn.is_stale():
                conn.sock.settimeout(timeout)
                return conn
            conn.close()
        return httpwire.connect(scheme, host, port, timeout, self._tls)

    def _tls(self) -> SSLContext:
        if self._ssl is None:
            self._ssl = httpwire.tls_context()
        return self._ssl

    def _send(self, method: str, url: str, *, content: Any = None, data: Any = None, files: Any = None,
              json: Any = None, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
              timeout: Any = _DEFAULT) -> Response:
        wait = self.timeout if timeout is _DEFAULT else timeout
        method = method.upper()
        scheme, host, port, target, host_header = httprequest.target(self._base_url, url, params)
        body_headers, body = httprequest.body(method, content, data, files, json)
        head, chunked = httprequest.head(method, target, host_header, httprequest.basic_auth(self._base_url),
                                         self.headers, body_headers, headers or {})
        conn = self._connect(scheme, host, port, wait)
        try:
            try:
                httpwire.write(conn, head, body, chunked)
            except WriteError:
                # as httpx: a server may answer (413...) and close before the upload is sent; read that answer
                conn.reusable = False
            return self._answer(conn, method)
        except BaseException:
            conn.close()
            raise

    def _answer(self, conn: Connection, method: str) -> Response:
        status, reason, headers, decoded, closing = httpwire.read_answer(conn, method)
        done = [False]

        def body() -> Iterator[bytes]:
            yield from decoded
            done[0] = True

        def release(_: Response) -> None:
            if done[0] and not closing and conn.reusable and self._conn is None:
                self._conn = conn  # the whole answer was read: the connection serves the next request
            else:
                conn.close()

        return Response(status, reason, headers, body(), release)

    def request(self, method: str, url: str, **kwargs: Any) -> Response:
        response = self._send(method, url, **kwargs)
        response.read()
        return response

    @contextlib.contextmanager
    def stream(self, method: str, url: str, **kwargs: Any) -> Iterator[Response]:
        response = self._send(method, url, **kwargs)
        try:
            yield response
        finally:
            response.close()

    def get(self, url: str, **kwargs: Any) -> Response:
        return self.request("GET", url, **kwargs)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
