"""Cloud Functions calls."""

from __future__ import annotations

import base64
import builtins
import io
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport

SKIP_DIRS = {".git", "__pycache__", "node_modules/.cache", ".venv"}


def zip_dir(path: str | Path) -> bytes:
    """Zip a folder's files (relative paths; .git, __pycache__ and .venv left out)."""
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
            for name in sorted(files):
                full = Path(dirpath) / name
                if full.is_symlink():
                    continue
                archive.write(full, full.relative_to(root).as_posix())
    return buf.getvalue()


def zip_files(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buf.getvalue()


class Functions:
    def __init__(self, client: Transport):
        self.c = client

    def runtimes(self) -> list[dict[str, Any]]:
        return self.c.get("/functions/runtimes")

    def create(self, name: str, runtime: str, code: bytes, handler: str | None = None, **config: Any) -> dict[str, Any]:
        """Create from zip bytes (sent as the seed's base64 ``code_zip``)."""
        body = {"name": name, "runtime": runtime, "code_zip": base64.b64encode(code).decode(), **config}
        if handler:
            body["handler"] = handler
        return self.c.post("/functions", body)

    def create_multipart(self, fields: dict[str, Any], code: bytes) -> dict[str, Any]:
        import json

        data = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in fields.items()}
        return self.c.request("POST", "/functions", data=data,
                              files={"code": ("code.zip", code, "application/zip")})

    def update(self, ref: str, code: bytes | None = None, **config: Any) -> dict[str, Any]:
        body = dict(config)
        if code is not None:
            body["code_zip"] = base64.b64encode(code).decode()
        return self.c.put(f"/functions/{ref}", body)

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/functions")

    def get(self, ref: str) -> dict[str, Any]:
        return self.c.get(f"/functions/{ref}")

    def delete(self, ref: str) -> None:
        self.c.delete(f"/functions/{ref}")

    def invoke(self, ref: str, payload: Any = None, *, is_async: bool = False) -> dict[str, Any]:
        return self.c.post(f"/functions/{ref}/invoke", {"payload": payload, "async": is_async})

    def invocation(self, ref: str, invocation_id: str) -> dict[str, Any]:
        return self.c.get(f"/functions/{ref}/invocations/{invocation_id}")

    def invocations(self, ref: str, limit: int = 50) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/functions/{ref}/invocations", params={"limit": limit})

    def logs(self, ref: str, limit: int = 100, since: str | None = None) -> builtins.list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if since:
            params["since"] = since
        return self.c.get(f"/functions/{ref}/logs", params=params)

    def add_event_source(self, ref: str, queue: str, batch_size: int = 10) -> dict[str, Any]:
        return self.c.post(f"/functions/{ref}/event-sources",
                           {"queue_id": queue, "batch_size": batch_size})

    def event_sources(self, ref: str) -> builtins.list[dict[str, Any]]:
        return self.c.get(f"/functions/{ref}/event-sources")

    def event_source(self, ref: str, source_id: str) -> dict[str, Any]:
        return self.c.get(f"/functions/{ref}/event-sources/{source_id}")

    def remove_event_source(self, ref: str, source_id: str) -> None:
        self.c.delete(f"/functions/{ref}/event-sources/{source_id}")
