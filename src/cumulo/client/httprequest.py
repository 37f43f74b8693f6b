"""A request as the CLI's HTTP client (``lighthttp``) writes it, as httpx writes it: the base URL
joined as httpx joins it, the path and query percent-encoded as httpx encodes them, ``params`` (which
replace a query in the path) encoded as httpx encodes them (``True`` -> ``true``, ``None`` -> empty),
a base URL's ``user:password`` sent as Basic authentication, JSON bodies as httpx writes them, form and
multipart bodies, files and iterators streamed (with a length when one is known, else chunked)."""

from __future__ import annotations

import json as jsonlib
import os
from collections.abc import Iterator, Mapping
from typing import IO, Any
from urllib.parse import unquote, urlencode, urlsplit

from cumulo import __version__
from cumulo.client.httperrors import UnsupportedProtocol
from cumulo.client.httpwire import CHUNK

USER_AGENT = f"cumulo-cli/{__version__}"
PORTS = {"http": 80, "https": 443}
# what a query and a path keep unescaped (WHATWG's percent-encode sets, as httpx uses them); other
# characters are percent-encoded as UTF-8, and % is kept, so an existing %XX escape stays as it is
_QUERY_SAFE = frozenset(chr(i) for i in range(0x20, 0x7F) if i not in (0x20, 0x22, 0x23, 0x3C, 0x3E))
_PATH_SAFE = _QUERY_SAFE - set("?`{}")


def _quote(text: str, safe: frozenset[str]) -> str:
    if all(char in safe for char in text):
        return text
    return "".join(char if char in safe else "".join(f"%{b:02X}" for b in char.encode("utf-8")) for char in text)


def _primitive(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def _param_items(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        items.extend((str(key), _primitive(v)) for v in values)
    return items


def target(base_url: str, url: str, params: Mapping[str, Any] | None) -> tuple[str, str, int, str, str]:
    """scheme, host, port, the request target (path and query) and the Host header's value."""
    parts = urlsplit(url)
    if parts.scheme:  # an absolute URL: the base does not apply
        base, path = parts, parts.path
    else:
        base = urlsplit(base_url)
        prefix = base.path.rstrip("/") + "/"
        path = prefix + parts.path.lstrip("/")
    scheme = base.scheme.lower()
    if scheme not in PORTS:
        if not scheme:
            raise UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol.")
        raise UnsupportedProtocol(f"Request URL has an unsupported protocol '{scheme}://'.")
    host = base.hostname or ""
    if not host:
        raise UnsupportedProtocol("Request URL is missing a host.")
    try:
        port = base.port or PORTS[scheme]
    except ValueError as exc:
        raise UnsupportedProtocol(f"Invalid port in {url!r}") from exc
    query = parts.query
    if params is not None:  # as httpx: given params replace the URL's query, even when empty
        query = urlencode(_param_items(params))
    request_target = _quote(path or "/", _PATH_SAFE) + (f"?{_quote(query, _QUERY_SAFE)}" if query else "")
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == PORTS[scheme] else f"{shown}:{port}"
    return scheme, host, port, request_target, host_header


def basic_auth(base_url: str) -> dict[str, str]:
    """The Authorization header of a base URL's ``user:password@``, if it has one."""
    base = urlsplit(base_url)
    if base.username is None and base.password is None:
        return {}
    import base64

    pair = f"{unquote(base.username or '')}:{unquote(base.password or '')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def head(method: str, request_target: str, host_header: str, *sources: Mapping[str, Any]) -> tuple[bytes, bool]:
    """The request line and headers (the defaults, then each of ``sources`` overriding the ones before,
    names case-insensitive but written as given), and whether the body goes chunked."""
    merged: dict[str, str] = {"host": host_header, "accept": "*/*", "accept-encoding": "gzip, deflate",
                              "connection": "keep-alive", "user-agent": USER_AGENT}
    names = {k: k.title() for k in merged}
    for source in sources:
        for name, value in source.items():
            merged[name.lower()] = str(value)
            names[name.lower()] = name
    text = f"{method} {request_target} HTTP/1.1\r\n" + "".join(f"{names[k]}: {v}\r\n" for k, v in merged.items())
    return (text + "\r\n").encode("latin-1"), merged.get("transfer-encoding") == "chunked"


def body(method: str, content: Any, data: Any, files: Any, json: Any) -> tuple[dict[str, str], bytes | Iterator[Any]]:
    """Headers and body: bytes, or an iterator of chunks with a length or chunked."""
    if content is not None:
        if isinstance(content, str):
            content = content.encode("utf-8")
        if isinstance(content, bytes | bytearray | memoryview):
            return {"Content-Length": str(len(content))}, bytes(content)
        if hasattr(content, "read"):
            return _file_body(content)
        return {"Transfer-Encoding": "chunked"}, iter(content)
    if files:
        return _multipart(data or {}, files)
    if data:
        encoded = urlencode(_param_items(data)).encode("ascii")
        return {"Content-Length": str(len(encoded)), "Content-Type": "application/x-www-form-urlencoded"}, encoded
    if json is not None:
        encoded = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
        return {"Content-Length": str(len(encoded)), "Content-Type": "application/json"}, encoded
    return ({"Content-Length": "0"} if method in ("POST", "PUT", "PATCH") else {}), b""


def _file_body(stream: IO[bytes]) -> tuple[dict[str, str], Iterator[bytes]]:
    length: int | None
    try:
        length = os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        try:
            offset = stream.tell()
            length = stream.seek(0, os.SEEK_END)
            stream.seek(offset)
        except (AttributeError, OSError, ValueError):
            length = None

    def chunks() -> Iterator[bytes]:
        while chunk := stream.read(CHUNK):
            yield chunk

    if length is None:
        return {"Transfer-Encoding": "chunked"}, chunks()
    return {"Content-Length": str(length)}, chunks()


def _form_name(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _multipart(data: Mapping[str, Any], files: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
    boundary = os.urandom(16).hex()
    parts: list[bytes] = []
    for name, value in data.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{_form_name(str(name))}"\r\n\r\n'
                         .encode() + _primitive(item).encode("utf-8") + b"\r\n")
    for name, spec in files.items():
        filename, content, ctype = (spec + (None,) * 3)[:3] if isinstance(spec, tuple) else (None, spec, None)
        if filename is None and hasattr(content, "name"):
            filename = os.path.basename(str(content.name))
        if hasattr(content, "read"):
            content = content.read()
        if isinstance(content, str):
            content = content.encode("utf-8")
        disposition = f'form-data; name="{_form_name(str(name))}"'
        if filename is not None:
            disposition += f'; filename="{_form_name(str(filename))}"'
        part = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        part += f"Content-Type: {ctype or 'application/octet-stream'}\r\n\r\n" if filename is not None or ctype else "\r\n"
        parts.append(part.encode() + bytes(content) + b"\r\n")
    encoded = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return {"Content-Length": str(len(encoded)), "Content-Type": f"multipart/form-data; boundary={boundary}"}, encoded
