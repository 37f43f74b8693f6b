"""Storage calls: buckets, objects (streamed), S3 credentials."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


def _path(bucket: str, key: str) -> str:
    return f"/storage/{quote(bucket, safe='')}/{quote(key, safe='/')}"


class Storage:
    def __init__(self, client: Transport):
        self.c = client

    # --- buckets ----------------------------------------------------------------------
    def create_bucket(self, name: str) -> dict[str, Any]:
        return self.c.post("/storage/buckets", {"name": name})

    def buckets(self) -> list[dict[str, Any]]:
        return self.c.get("/storage/buckets")

    def bucket(self, name: str) -> dict[str, Any]:
        return self.c.get(f"/storage/buckets/{quote(name, safe='')}")

    def delete_bucket(self, name: str) -> None:
        self.c.delete(f"/storage/buckets/{quote(name, safe='')}")

    # --- objects ----------------------------------------------------------------------
    def put(self, bucket: str, key: str, data: bytes | IO[bytes] | Iterator[bytes],
            content_type: str = "application/octet-stream") -> dict[str, Any]:
        return self.c.request("PUT", _path(bucket, key), content=data,
                              headers={"Content-Type": content_type})

    def get(self, bucket: str, key: str) -> bytes:
        return self.c.request("GET", _path(bucket, key), raw=True).content

    def download(self, bucket: str, key: str, out: IO[bytes]) -> int:
        """Stream an object into ``out``; returns the byte count."""
        written = 0
        with self.c.stream("GET", _path(bucket, key)) as response:
            for chunk in response.iter_bytes():
                out.write(chunk)
                written += len(chunk)
        return written

    def head(self, bucket: str, key: str) -> dict[str, str]:
        return dict(self.c.request("HEAD", _path(bucket, key), raw=True).headers)

    def delete(self, bucket: str, key: str) -> None:
        self.c.delete(_path(bucket, key))

    def list(self, bucket: str, prefix: str = "", delimiter: str = "", after: str | None = None,
             limit: int = 1000) -> dict[str, Any]:
        params: dict[str, Any] = {"prefix": prefix, "limit": limit}
        if delimiter:
            params["delimiter"] = delimiter
        if after:
            params["after"] = after
        return self.c.get(f"/storage/{quote(bucket, safe='')}", params=params)

    def presign(self, bucket: str, key: str, expires_in_seconds: int = 3600,
                access_key_id: str | None = None) -> dict[str, Any]:
        """A presigned GET URL of an object on the S3 endpoint (``url``, ``expires_at``, ``access_key_id``),
        signed with the newest S3 credential or the one named."""
        body: dict[str, Any] = {"expires_in_seconds": expires_in_seconds}
        if access_key_id:
            body["access_key_id"] = access_key_id
        return self.c.post(f"/storage/buckets/{quote(bucket, safe='')}/objects/{quote(key, safe='/')}/presign", body)

    # --- S3 credentials ---------------------------------------------------------------
    def create_credentials(self, name: str = "") -> dict[str, Any]:
        return self.c.post("/storage/credentials", {"name": name})

    def credentials(self) -> builtins.list[dict[str, Any]]:
        return self.c.get("/storage/credentials")

    def delete_credentials(self, ident: str) -> None:
        self.c.delete(f"/storage/credentials/{quote(ident, safe='')}")
