"""The console's files: ``/console/assets/<file>`` from ``static/`` (gzip when the browser takes it,
ETag revalidation), and ``index.html`` for every other path under ``/console`` (the page routes
itself from the URL). A browser asking for ``/`` (``Accept: text/html``) is sent to ``/console``."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from cumulo.core.errors import NotFound

STATIC = Path(__file__).resolve().parent / "static"
router = APIRouter(include_in_schema=False)
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html",
         ".svg": "image/svg+xml", ".png": "image/png", ".txt": "text/plain", ".ico": "image/x-icon"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    etag: str


@lru_cache(maxsize=256)
def _load(path: Path, mtime: float) -> Asset:
    body = path.read_bytes()
    kind = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind.endswith(("+xml", "json")):
        kind += "; charset=utf-8"
    return Asset(body, gzip.compress(body, 9, mtime=0), kind, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')


def _asset(name: str) -> Asset:
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file():
        raise NotFound(f"no console file '{name}'")
    return _load(path, path.stat().st_mtime)


def _respond(request: Request, asset: Asset) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", "") and len(asset.gzipped) < len(asset.body):
        body, headers["Content-Encoding"] = asset.gzipped, "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)


@router.get("/console/assets/{name:path}")
async def asset(name: str, request: Request) -> Response:
    return _respond(request, _asset(name))


@router.get("/console")
@router.get("/console/{page:path}")
async def index(request: Request, page: str = "") -> Response:
    return _respond(request, _asset("index.html"))


class BrowserRedirect:
    """``GET /`` from a browser (``Accept: text/html``) goes to the console; API clients still get the
    JSON index there."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] in ("GET", "HEAD"):
            accept = next((v for k, v in scope.get("headers", []) if k == b"accept"), b"")
            if b"text/html" in accept:
                await send({"type": "http.response.start", "status": 302,
                            "headers": [(b"location", b"/console"), (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)
