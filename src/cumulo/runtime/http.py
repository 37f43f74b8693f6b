"""The HTTP/1.1 protocol both ports (API and S3) are served with: uvicorn's httptools protocol with
bounds on what a client may make the server hold before its request even starts.

- The request line and headers together may take ``CUMULO_MAX_HEADER_BYTES``; past that the
  connection gets ``431 Request Header Fields Too Large`` and is closed (the parser buffers a header
  until it ends, so an unbounded one would be copied over and over and stall the loop).
- At most ``CUMULO_MAX_HEADERS`` header lines (431 past that).
- The head must arrive within ``CUMULO_HEADER_TIMEOUT_SECONDS`` of the connection opening (or of
  the previous response on a kept-alive connection): a slow client gets ``408`` and is closed.
  Idle kept-alive connections close after uvicorn's keep-alive timeout (5 s).

Without httptools (uvicorn without ``[standard]``) the h11 protocol is used with the same size
limit, which h11 answers with a plain 400.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cumulo.core.config import Settings

try:
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
except ImportError:  # pragma: no cover - uvicorn without httptools
    HttpToolsProtocol = None  # type: ignore[assignment,misc]  # a class when present; checked before use


class _TooMany(Exception):
    pass


if HttpToolsProtocol is not None:
    class BoundedHttpTools(HttpToolsProtocol):
        max_head_bytes = 16384
        max_headers = 100
        head_timeout = 10.0

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True
            self._head_bytes = 0
            self._header_count = 0
            self._refusal: int | None = None
            self._head_timer: asyncio.TimerHandle | None = None

        # --- the head's size and number of headers -----------------------------------------
        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._in_head and self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
                self._refuse(431, f"request line and headers exceed {self.max_head_bytes} bytes")

        def on_message_begin(self) -> None:
            self._header_count = 0
            super().on_message_begin()

        def on_header(self, name: bytes, value: bytes) -> None:
            self._header_count += 1
            if self._header_count > self.max_headers:
                self._refusal = 431
                raise _TooMany()  # httptools turns it into a parser error: send_400_response below
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._cancel_head_timer()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head, self._head_bytes = True, 0

        def send_400_response(self, msg: str) -> None:
            if self._refusal == 431:
                self._refuse(431, f"more than {self.max_headers} header lines")
                return
            super().send_400_response(msg)

        def _refuse(self, status: int, message: str) -> None:
            body = message.encode("ascii")
            self.transport.write(b"".join([
                STATUS_LINE[status], b"content-type: text/plain; charset=utf-8\r\n",
                b"content-length: ", str(len(body)).encode("ascii"), b"\r\n", b"connection: close\r\n\r\n", body]))
            self.transport.close()

        # --- slow clients ------------------------------------------------------------------------
        # ignore: as in uvicorn itself (asyncio.Protocol takes any BaseTransport; HTTP needs a Transport)
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def _arm_head_timer(self) -> None:
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if not self._in_head or self.transport.is_closing():
                return
            if self._head_bytes:
                self._refuse(408, f"request headers not received within {self.head_timeout:g} s")
            else:
                self.transport.close()


def protocol_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``: the bounded protocol and its limits."""
    if HttpToolsProtocol is None:  # pragma: no cover
        return {"http": "h11", "h11_max_incomplete_event_size": settings.max_header_bytes}
    protocol = type("CumuloHttp", (BoundedHttpTools,), {
        "max_head_bytes": settings.max_header_bytes, "max_headers": settings.max_headers,
        "head_timeout": settings.header_timeout_seconds})
    return {"http": protocol, "h11_max_incomplete_event_size": settings.max_header_bytes}
