"""PostgreSQL's write lane: the batch's small blobs are synced while its statements run and the
COMMIT is sent only after the sync, so a batch whose blob cannot be written commits none of its
rows, and its connection goes back to the pool usable."""

from __future__ import annotations

from typing import Any

import pytest

from cumulo.drivers.blob.local import random_hex
from cumulo.services.storage import buckets as bucket_service
from cumulo.services.storage import pg_lane, reads
from cumulo.services.storage.sqlite_lane import Change
from cumulo.services.storage.versions import Pending, _new_row, blob_store
from cumulo.testing.server import LiveServer


def test_a_batch_whose_blob_cannot_be_written_commits_nothing(server: LiveServer, s3: Any, bucket: str) -> None:
    if not server.platform.db.is_postgres:
        pytest.skip("PostgreSQL's write lane")
    platform = server.platform
    store = blob_store(platform)
    while True:  # a blob whose directory is a plain file: its write fails
        blocked = random_hex()
        folder = store.path(blocked).parent
        if not folder.exists():
            break
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_bytes(b"")

    async def main() -> tuple[Any, Any]:
        lane = pg_lane.lane(platform)
        assert lane is not None
        target = await bucket_service.lookup(platform, bucket)

        def batch(key: str, blob_id: str) -> tuple[list[Change], list[Any]]:
            row = _new_row(Pending(target, key, {"blob_id": blob_id, "size": 4, "etag": "e", "meta": {},
                                                 "content_type": "text/plain", "delete_marker": False}))
            return [Change(target.id, [key], drop_null=True, demote=True)], [row]

        changes, rows = batch("lane/bad", blocked)
        with pytest.raises(OSError):
            await lane.write(changes, rows, blobs=[(blocked, b"data")], store=store)
        failed = await reads.latest_version(platform, target.id, "lane/bad")
        good = random_hex()
        changes, rows = batch("lane/good", good)
        for _ in range(20):  # every pooled connection is still usable
            await lane.write(changes, rows[:0], store=store)
        await lane.write(changes, rows, blobs=[(good, b"data")], store=store)
        return failed, await reads.latest_version(platform, target.id, "lane/good")

    failed, written = server.call(main())
    folder.unlink()
    assert failed is None
    assert written is not None and written.blob_id is not None
    assert store.path(written.blob_id).read_bytes() == b"data"
