"""HTTP/1.1 on the wire for the CLI's HTTP client (``lighthttp``): the connection (TCP, TLS verified
as httpx verifies it: ``SSL_CERT_FILE``/``SSL_CERT_DIR`` or certifi's bundle), the request written
(its body at once, streamed, or chunked), and the answer read: its status line and headers, then its
body sized, chunked or until the connection closes, gzip/deflate decoded. A socket's timeouts and
errors are raised as ``httperrors``' exceptions, named as httpx names them."""

from __future__ import annotations

import contextlib
import os
import socket
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from cumulo.client.httperrors import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    WriteError,
    WriteTimeout,
)

if TYPE_CHECKING:
    from ssl import SSLContext

CHUNK = 64 * 1024
MAX_LINE = 65536
MAX_HEADERS = 100


class Headers(Mapping[str, str]):
    """Answer headers: names case-insensitive (listed in lower case, as httpx lists them), a repeated
    header's values joined with ", "."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        self._items: list[tuple[str, str]] = []
        self._joined: dict[str, str] = {}
        for name, value in items:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        key = name.lower()
        self._items.append((key, value))
        self._joined[key] = f"{self._joined[key]}, {value}" if key in self._joined else value

    def __getitem__(self, name: str) -> str:
        return self._joined[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._joined

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def __len__(self) -> int:
        return len(self._joined)

    @property
    def items_list(self) -> list[tuple[str, str]]:
        return self._items

    def get_list(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self._items if k == key]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class Connection:
    def __init__(self, sock: socket.socket, key: tuple[str, str, int]):
        self.sock, self.key = sock, key
        self.file = sock.makefile("rb")
        self.reusable = True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.sock.close()

    def is_stale(self) -> bool:
        """The server closed its end of an idle keep-alive connection (or sent something unasked)."""
        import select

        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


def connect(scheme: str, host: str, port: int, timeout: float | None, tls: Callable[[], SSLContext]) -> Connection:
    """A new connection; ``tls`` gives the context an https one is wrapped in."""
    try:
        # an ASCII name or address goes as bytes: a str would load the idna codec first
        name: Any = host.encode("ascii") if host.isascii() else host  # getaddrinfo takes bytes too
        sock = socket.create_connection((name, port), timeout=timeout)
    except TimeoutError as exc:
        raise ConnectTimeout(str(exc) or "timed out") from exc
    except OSError as exc:
        raise ConnectError(str(exc)) from exc
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            sock = tls().wrap_socket(sock, server_hostname=host)
    except TimeoutError as exc:
        sock.close()
        raise ConnectTimeout(str(exc) or "timed out") from exc
    except OSError as exc:  # ssl.SSLError (a certificate that does not verify) is an OSError
        sock.close()
        raise ConnectError(str(exc)) from exc
    return Connection(sock, (scheme, host, port))


def tls_context() -> SSLContext:
    """TLS verified as httpx verifies it: SSL_CERT_FILE, else SSL_CERT_DIR, else certifi's bundle."""
    import ssl

    if os.environ.get("SSL_CERT_FILE"):
        context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    elif os.environ.get("SSL_CERT_DIR"):
        context = ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    else:
        import certifi

        context = ssl.create_default_context(cafile=certifi.where())
    context.set_alpn_protocols(["http/1.1"])
    return context


def write(conn: Connection, head: bytes, body: bytes | Iterator[Any], chunked: bool) -> None:
    try:
        if isinstance(body, bytes):
            conn.sock.sendall(head + body if len(body) < CHUNK else head)
            if len(body) >= CHUNK:
                conn.sock.sendall(body)
            return
        conn.sock.sendall(head)
        for item in body:
            chunk = item.encode("utf-8") if isinstance(item, str) else bytes(item)  # text chunks, as httpx takes
            if not chunk:
                continue
            conn.sock.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
        if chunked:
            conn.sock.sendall(b"0\r\n\r\n")
    except TimeoutError as exc:
        raise WriteTimeout(str(exc) or "timed out") from exc
    except OSError as exc:
        raise WriteError(str(exc)) from exc


def read_answer(conn: Connection, method: str) -> tuple[int, str, Headers, Iterator[bytes], bool]:
    """The answer's status, reason and headers (past any 1xx answer), its body decoded as it is read,
    and whether the connection closes after it."""
    while True:
        line = _readline(conn)
        if not line:
            raise RemoteProtocolError("Server disconnected without sending a response.")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise RemoteProtocolError(f"malformed status line {line[:80]!r}")
        status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
        headers = Headers()
        while True:
            line = _readline(conn)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise RemoteProtocolError("Server disconnected while sending the headers.")
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon or not name or name != name.strip():
                raise RemoteProtocolError(f"malformed header line {line[:80]!r}")
            headers.add(name, value.strip())
            if len(headers.items_list) > MAX_HEADERS:
                raise RemoteProtocolError("too many headers")
        if 100 <= status < 200 and status != 101:
            continue  # 100 Continue and the like: the real answer follows
        break
    closing = parts[0] == "HTTP/1.0" or "close" in headers.get("connection", "").lower()
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        raw: Iterator[bytes] = iter(())
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        raw = _chunked(conn)
    elif "content-length" in headers:
        try:
            length = int(headers.get_list("content-length")[0])
        except ValueError as exc:
            raise RemoteProtocolError("malformed Content-Length") from exc
        raw = _sized(conn, length)
    else:
        raw, closing = _until_close(conn), True
    return status, reason, headers, _decoded(raw, headers.get("content-encoding", "")), closing


def _readline(conn: Connection) -> bytes:
    try:
        line = conn.file.readline(MAX_LINE + 1)
    except TimeoutError as exc:
        raise ReadTimeout(str(exc) or "timed out") from exc
    except OSError as exc:
        raise ReadError(str(exc)) from exc
    if len(line) > MAX_LINE:
        raise RemoteProtocolError("a header line is too long")
    return line


def _read(conn: Connection, size: int) -> bytes:
    try:
        return conn.file.read1(size)
    except TimeoutError as exc:
        raise ReadTimeout(str(exc) or "timed out") from exc
    except OSError as exc:
        raise ReadError(str(exc)) from exc


def _sized(conn: Connection, length: int) -> Iterator[bytes]:
    left = length
    while left > 0:
        chunk = _read(conn, min(left, CHUNK))
        if not chunk:
            raise RemoteProtocolError(f"peer closed connection without sending complete message body: "
                                      f"received {length - left} bytes, expected {length}")
        left -= len(chunk)
        yield chunk


def _chunked(conn: Connection) -> Iterator[bytes]:
    while True:
        line = _readline(conn)
        if not line:
            raise RemoteProtocolError("peer closed connection without sending complete message body: "
                                      "incomplete chunked read")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise RemoteProtocolError(f"malformed chunk size {line[:40]!r}") from exc
        if size == 0:
            while _readline(conn) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return
        yield from _sized(conn, size)
        if _readline(conn) not in (b"\r\n", b"\n"):
            raise RemoteProtocolError("malformed chunk end")


def _until_close(conn: Connection) -> Iterator[bytes]:
    while chunk := _read(conn, CHUNK):
        yield chunk


def _decoded(raw: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
    if not codings:
        yield from raw
        return
    decoders: list[Any] = []
    for coding in reversed(codings):  # the last coding applied is undone first
        if coding in ("gzip", "x-gzip"):
            decoders.append(zlib.decompressobj(zlib.MAX_WBITS | 16))
        elif coding == "deflate":
            decoders.append(_Deflate())
        else:
            raise RemoteProtocolError(f"unsupported Content-Encoding {coding!r}")
    try:
        for chunk in raw:
            for decoder in decoders:
                chunk = decoder.decompress(chunk)
            if chunk:
                yield chunk
        tail = b""
        for decoder in decoders:
            tail = decoder.decompress(tail) + decoder.flush()
        if tail:
            yield tail
    except zlib.error as exc:
        raise RemoteProtocolError(f"the answer's {encoding} body does not decode: {exc}") from exc


class _Deflate:
    """deflate as servers send it: zlib-wrapped, or (as some do) raw."""

    def __init__(self) -> None:
        self._first = True
        self._decoder = zlib.decompressobj()

    def decompress(self, data: bytes) -> bytes:
        if self._first and data:
            self._first = False
            try:
                return self._decoder.decompress(data)
            except zlib.error:
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._decoder.decompress(data)

    def flush(self) -> bytes:
        return self._decoder.flush()
