"""S3 requests billed per 1,000 by price class (PUT/COPY/POST/LIST, GET/HEAD), to the bucket's owner,
counted in memory by the S3 endpoint and written every few seconds (``storage.requests``), then rated
by the meter like any consumption; with boto3 (real SigV4) on both databases and the test clock."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cumulo.client import Client
from cumulo.services.storage.requests import price_class
from tests.services.billing.conftest import Billed
from tests.services.billing.test_billing import charges, span
from tests.services.storage.conftest import s3_client

pytestmark = pytest.mark.xdist_group("billing")
HOUR = 3600


def _flush(billed: Billed) -> None:
    from cumulo.services.storage import requests

    billed.run(requests.flush(billed.live.platform))  # type: ignore[arg-type]


def _rows(billed: Billed, bucket: str) -> list[tuple[Any, ...]]:
    from sqlalchemy import select

    from cumulo.services.storage.models import RequestUsage as R

    async def go() -> list[tuple[Any, ...]]:
        async with billed.live.platform.db.session() as session:  # type: ignore[union-attr]
            return [tuple(r) for r in (await session.execute(
                select(R.minute, R.put_requests, R.get_requests).where(R.bucket_name == bucket))).all()]
    return billed.run(go())  # type: ignore[no-any-return]


def owed(client: Client) -> float:
    """The user's S3 requests so far: pending in the open day, plus posted."""
    posted = -sum(e["amount"] for e in charges(client) if e["resource_type"] == "bucket")
    return round(client.billing.balance()["pending"] + posted, 6)


def test_price_classes_are_s3s() -> None:
    assert price_class("PUT", "k", {}) == "put" and price_class("POST", "k", {"uploads": ""}) == "put"
    assert price_class("PUT", "k", {"partNumber": "1", "uploadId": "u"}) == "put"
    assert price_class("GET", None, {"list-type": "2"}) == "put"  # ListObjectsV2
    assert price_class("GET", None, {"versions": ""}) == "put" and price_class("GET", "k", {"uploadId": "u"}) == "put"
    assert price_class("GET", "k", {}) == "get" and price_class("HEAD", "k", {}) == "get"
    assert price_class("GET", None, {"versioning": ""}) == "get" and price_class("HEAD", None, {}) == "get"
    assert price_class("GET", "k", {"tagging": ""}) == "get"
    assert price_class("DELETE", "k", {}) is None and price_class("POST", None, {"delete": ""}) is None
    assert price_class("DELETE", "k", {"uploadId": "u"}) is None and price_class("OPTIONS", "k", {}) is None


def test_s3_requests_are_billed_per_thousand_to_the_buckets_owner(billed: Billed, monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3 signs at the server's (test) time, as a client whose clock agrees with the server's
    def server_time(remove_tzinfo: bool = True) -> Any:
        return billed.clock.now.replace(tzinfo=None) if remove_tzinfo else billed.clock.now

    monkeypatch.setattr("botocore.auth.get_current_datetime", server_time)
    with contextlib.suppress(ImportError):  # the CRT signer, when awscrt is installed
        monkeypatch.setattr("botocore.crt.auth.get_current_datetime", server_time)
    client, _ = billed.user("pro")
    other, _ = billed.user("pro")
    admin = billed.admin()
    admin.billing.edit_price("storage.thousand_put_requests", 1000)  # 1 credit a request: visible
    admin.billing.edit_price("storage.thousand_get_requests", 100)  # 0.1 a request
    try:
        billed.to_next_hour()
        s3 = s3_client(billed.live, client.storage.create_credentials("billing"))
        stranger = s3_client(billed.live, other.storage.create_credentials("billing"))
        name = f"req-{uuid.uuid4().hex[:10]}"
        s3.create_bucket(Bucket=name)  # names no bucket yet: not billed
        s3.put_object(Bucket=name, Key="a", Body=b"one")  # PUT class: 1
        s3.put_object(Bucket=name, Key="b", Body=b"two")  # 2
        s3.copy_object(Bucket=name, Key="c", CopySource={"Bucket": name, "Key": "a"})  # 3
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == ["a", "b", "c"]  # LIST: 4
        assert s3.get_object(Bucket=name, Key="a")["Body"].read() == b"one"  # GET class: 1
        s3.head_object(Bucket=name, Key="b")  # 2
        s3.get_bucket_versioning(Bucket=name)  # 3
        with pytest.raises(ClientError) as missing:
            s3.get_object(Bucket=name, Key="nothing")  # 4: a 404 is billed, as on S3
        assert missing.value.response["Error"]["Code"] == "NoSuchKey"
        s3.delete_object(Bucket=name, Key="c")  # free
        s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "b"}]})  # free
        with pytest.raises(ClientError) as refused:
            stranger.get_object(Bucket=name, Key="a")  # refused (403): not billed to the owner
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        billed.restart()  # a clean shutdown writes what was counted in memory
        client = Client(billed.live.url, api_key=client.api_key)
        s3 = s3_client(billed.live, client.storage.create_credentials("after"))
        for _ in range(3):
            s3.get_object(Bucket=name, Key="a")["Body"].read()  # GET class: 5, 6, 7
        s3.put_object(Bucket=name, Key="d", Body=b"four")  # PUT class: 5
        _flush(billed)
        assert [(put, get) for _minute, put, get in _rows(billed, name)] == [(5, 7)]  # one row: the minute
        billed.meter()
        assert owed(client) == 0  # the minute is not over (and the settle time)
        billed.advance(HOUR + 120)
        billed.meter()
        billed.meter()  # counted once however many passes
        assert owed(client) == pytest.approx(5 * 1 + 7 * 0.1, abs=1e-6)  # pending, or posted past a midnight
        billed.close_day()
        billed.meter()
        billed.meter()
        lines = [e for e in charges(client) if e["resource_type"] == "bucket"]
        got = {e["unit"]: (e["quantity"], -e["amount"]) for e in lines}
        assert got == {"PUT/COPY/POST/LIST request": (5, pytest.approx(5)), "GET/HEAD request": (7, pytest.approx(0.7))}
        assert {e["service"] for e in lines} == {"storage"} and len(lines) == 2
        assert client.billing.balance()["pending"] == 0
        assert not [e for e in charges(other) if e["resource_type"] == "bucket"]  # the stranger pays nothing
        usage = {(i["service"], i["unit"]): (i["quantity"], i["amount"])
                 for i in client.billing.usage(group_by="service", **span(billed))["items"]}
        assert usage == {("storage", "PUT/COPY/POST/LIST request"): (5, pytest.approx(5)),
                         ("storage", "GET/HEAD request"): (7, pytest.approx(0.7))}
    finally:
        admin.billing.edit_price("storage.thousand_put_requests", 0.005)
        admin.billing.edit_price("storage.thousand_get_requests", 0.0004)


def test_request_prices_are_in_the_table(billed: Billed) -> None:
    prices = {p["key"]: p for p in Client(billed.live.url).billing.prices()}
    assert prices["storage.thousand_put_requests"]["amount"] == 0.005
    assert prices["storage.thousand_get_requests"]["amount"] == 0.0004
    assert prices["storage.thousand_put_requests"]["unit"] == "1,000 requests"
