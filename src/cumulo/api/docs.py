"""``/docs`` (Swagger UI) and ``/redoc`` that work air-gapped: their assets come from the
``fastapi-offline`` package (the upstream minified builds) and are served by the API itself, so the
pages load nothing from the network and the content security policy can stay ``'self'``."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse

from cumulo.core.errors import not_found

ASSET_PREFIX = "/docs/assets"
_OURS = Path(__file__).with_name("docs_assets")
_MEDIA = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _vendored() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).with_name("static")


def assets() -> dict[str, Path]:
    """Asset name -> file: the vendored Swagger UI / ReDoc builds and our start-up script."""
    files = {p.name: p for p in _vendored().iterdir() if p.suffix in _MEDIA}
    files.update({p.name: p for p in _OURS.iterdir() if p.suffix in _MEDIA})
    return files


def _page(title: str, head: str, body: str, attrs: str = "") -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" type="image/png" href="{ASSET_PREFIX}/favicon.png">{head}</head>'
            f"<body{attrs}>{body}</body></html>\n")


def install(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    files = assets()
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(_page(
            title, f'<link rel="stylesheet" href="{ASSET_PREFIX}/swagger-ui.css">',
            f'<div id="swagger-ui"></div><script src="{ASSET_PREFIX}/swagger-ui-bundle.js"></script>'
            f'<script src="{ASSET_PREFIX}/swagger-init.js"></script>', f' data-openapi="{escape(openapi_url)}"'))

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(_page(title, "", f'<redoc spec-url="{escape(openapi_url)}"></redoc>'
                                             f'<script src="{ASSET_PREFIX}/redoc.standalone.js"></script>'))

    @app.get(ASSET_PREFIX + "/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        path = files.get(name)
        if path is None:
            raise not_found("docs asset", name)
        return FileResponse(path, media_type=_MEDIA[path.suffix], headers={"Cache-Control": "public, max-age=86400"})
