"""A batch of version writes is one transaction of the statement lane, with its small blobs written
and synced alongside (PostgreSQL: while its statements run, the COMMIT after; SQLite: just before):
a batch whose blob cannot be written commits none of its rows, and the database's connections stay
usable. On both databases."""

from __future__ import annotations

from typing import Any

import pytest

from cumulo.core.errors import Unavailable
from cumulo.drivers.blob.local import random_hex
from cumulo.services.storage import buckets as bucket_service
from cumulo.services.storage import reads, versions
from cumulo.services.storage.versions import Pending, blob_store
from cumulo.testing.server import LiveServer


def test_a_batch_whose_blob_cannot_be_written_commits_nothing(server: LiveServer, s3: Any, bucket: str) -> None:
    platform = server.platform
    store = blob_store(platform)
    while True:  # a blob whose directory is a plain file: its write fails
        blocked = random_hex()
        folder = store.path(blocked).parent
        if not folder.exists():
            break
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_bytes(b"")

    async def main() -> tuple[Any, Any, Any]:
        target = await bucket_service.lookup(platform, bucket)

        def item(key: str, blob_id: str, small: bytes | None) -> Pending:
            return Pending(target, key, {"blob_id": blob_id, "size": 4, "etag": "e", "meta": {"m": [1]},
                                         "content_type": "text/plain", "delete_marker": False, "small": small})

        good = random_hex()
        with pytest.raises(Unavailable):  # the good key's row goes down with the bad blob
            await versions._write(platform, [item("batch/bad", blocked, b"data"), item("batch/good", good, None)])
        failed = (await reads.latest_version(platform, target.id, "batch/bad"),
                  await reads.latest_version(platform, target.id, "batch/good"))
        for _ in range(20):  # every pooled connection is still usable
            await versions._write(platform, [])
        await versions._write(platform, [item("batch/good", good, b"data")])
        written = await reads.latest_version(platform, target.id, "batch/good")
        return failed, written, written.meta if written else None

    failed, written, meta = server.call(main())
    folder.unlink()
    assert failed == (None, None)
    assert written is not None and written.blob_id is not None and meta == {"m": [1]}
    assert store.path(written.blob_id).read_bytes() == b"data"
