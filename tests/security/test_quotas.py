"""Per-user quotas (issue 10 point 7): every kind a user can multiply is capped, race-safely (the
user's quota lock, held in the insert's transaction), and reported by ``GET /quotas``.

One server per database with every limit at 2 (S3 bytes at 1000) serves the module."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cumulo.client import ApiError, Client
from cumulo.client.functions import zip_files
from cumulo.testing.server import LiveServer
from cumulo.testing.server import test_settings as settings_for
from tests.conftest import concurrent_statuses, register_and_login
from tests.services.storage.conftest import s3_client

LOW = {"quota_queues": 2, "quota_topics": 2, "quota_subscriptions": 2, "quota_cron_jobs": 2, "quota_secrets": 2,
       "quota_buckets": 2, "quota_s3_credentials": 2, "quota_api_keys": 3, "quota_functions": 2,
       "quota_function_memory_mb": 1024, "quota_function_event_sources": 1, "quota_storage_bytes": 1000, "quota_storage_objects": 3,
       "rate_limit": "1000000/minute"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def low(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = request.getfixturevalue("pg_database") if request.param == "postgresql" else None
    live = LiveServer(settings_for(str(tmp_path_factory.mktemp("quotas")), url, **LOW)).start()
    yield live
    live.stop()


@pytest.fixture
def owner(low: LiveServer) -> Iterator[Client]:
    with register_and_login(low) as client:
        yield client


def name(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def refused(call: Callable[[], Any]) -> ApiError:
    with pytest.raises(ApiError) as err:
        call()
    assert (err.value.status, err.value.code) == (403, "QUOTA_EXCEEDED"), err.value
    return err.value


def by_kind(client: Client) -> dict[str, dict[str, Any]]:
    return {q["kind"]: q for q in client.get("/quotas")}


# kind -> (create one, list what exists)
def _kinds(c: Client) -> dict[str, tuple[Callable[[], Any], Callable[[], list[Any]]]]:
    return {
        "queues": (lambda: c.queues.create(name()), c.queues.list),
        "topics": (lambda: c.notify.create_topic(name()), c.notify.topics),
        "cron_jobs": (lambda: c.cron.create(name(), "@daily", target_type="queue", target_id=_queue(c)),
                      c.cron.list),
        "secrets": (lambda: c.secrets.create(name(), "value"), c.secrets.list),
        "buckets": (lambda: c.storage.create_bucket(name("b")), c.storage.buckets),
        "s3_credentials": (lambda: c.storage.create_credentials(), c.storage.credentials),
    }


def _queue(c: Client) -> str:
    """A queue for cron targets, made once per client (counts against its queue quota)."""
    if not hasattr(c, "_target_queue"):
        c._target_queue = c.queues.create(name("target"))["name"]  # type: ignore[attr-defined]
    return c._target_queue  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("kind", ["queues", "topics", "cron_jobs", "secrets", "buckets", "s3_credentials"])
def test_one_over_the_limit_is_refused_and_nothing_is_created(owner: Client, kind: str) -> None:
    create, listing = _kinds(owner)[kind]
    if kind == "cron_jobs":
        _queue(owner)
    for _ in range(2):
        create()
    before = len(listing())
    err = refused(create)
    assert kind in err.message and "CUMULO_QUOTA_" in err.message
    assert len(listing()) == before
    report = by_kind(owner)[kind]
    assert (report["used"], report["limit"]) == (2, 2)
    assert report["setting"] == f"CUMULO_QUOTA_{kind.upper()}"


def test_quota_is_per_user(low: LiveServer, owner: Client) -> None:
    for _ in range(2):
        owner.queues.create(name())
    refused(lambda: owner.queues.create(name()))
    with register_and_login(low) as other:
        other.queues.create(name())
        assert by_kind(other)["queues"]["used"] == 1


def test_subscriptions_are_capped_across_topics(owner: Client) -> None:
    queue = owner.queues.create(name())["name"]
    t1, t2 = owner.notify.create_topic(name()), owner.notify.create_topic(name())
    owner.notify.subscribe(t1["id"], "queue", queue)
    owner.notify.subscribe(t2["id"], "queue", queue)
    other_queue = owner.queues.create(name())["name"]
    refused(lambda: owner.notify.subscribe(t1["id"], "queue", other_queue))
    assert len(owner.notify.subscriptions()) == 2


def test_api_keys_are_capped_and_a_login_replaces_the_oldest_login_key(low: LiveServer) -> None:
    from tests.conftest import PASSWORD, new_email

    email = new_email()
    with Client(low.url) as c:
        c.identity.register(email, PASSWORD, "Keys")
        c.identity.login(email, PASSWORD)  # key 1 (login)
        c.identity.create_key("one")  # 2
        c.identity.create_key("two")  # 3 = the limit
        refused(lambda: c.identity.create_key("three"))
        assert len(c.identity.keys()) == 3
        first = c.api_key
        c.identity.login(email, PASSWORD)  # replaces the oldest login key: still 3
        keys = c.identity.keys()
        assert len(keys) == 3 and {k["name"] for k in keys if not k["login"]} == {"one", "two"}
        with Client(low.url, api_key=first) as old:
            with pytest.raises(ApiError) as err:
                old.identity.me()
            assert err.value.status == 401


@pytest.mark.docker  # needs dockerd (instances or function runtimes)
def test_functions_count_and_memory_times_concurrency(owner: Client) -> None:
    code = zip_files({"main.py": "def handler(event, context):\n    return 1\n"})
    # 1024 MB in all: 128 MB x 4 twice fills it
    owner.functions.create(name("fn"), "python", code, memory_mb=128, max_concurrency=4)
    refused(lambda: owner.functions.create(name("fn"), "python", code, memory_mb=256, max_concurrency=4))
    second = owner.functions.create(name("fn"), "python", code, memory_mb=128, max_concurrency=4)
    assert by_kind(owner)["function_memory_mb"]["used"] == 1024
    refused(lambda: owner.functions.update(second["name"], max_concurrency=5))  # growing counts too
    assert owner.functions.get(second["name"])["max_concurrency"] == 4
    owner.functions.update(second["name"], max_concurrency=2)  # shrinking is fine
    refused(lambda: owner.functions.create(name("fn"), "python", code, memory_mb=64, max_concurrency=1))
    assert len(owner.functions.list()) == 2


@pytest.mark.docker  # needs dockerd (function runtimes)
def test_function_event_sources(owner: Client) -> None:
    code = zip_files({"main.py": "def handler(event, context):\n    return 1\n"})
    fn = owner.functions.create(name("fn"), "python", code, memory_mb=128, max_concurrency=1)
    first, second = (owner.queues.create(name())["name"] for _ in range(2))
    owner.functions.add_event_source(fn["name"], first)
    refused(lambda: owner.functions.add_event_source(fn["name"], second))
    assert [s["queue_id"] for s in owner.functions.event_sources(fn["name"])] == [
        owner.queues.get(first)["id"]]
    assert (by_kind(owner)["function_event_sources"]["used"],
            by_kind(owner)["function_event_sources"]["limit"]) == (1, 1)


def test_s3_bytes_and_objects(low: LiveServer, owner: Client) -> None:
    s3 = s3_client(low, owner.storage.create_credentials())
    bucket = name("b")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"x" * 600)
    with pytest.raises(Exception) as err:  # 600 + 500 > 1000 bytes
        s3.put_object(Bucket=bucket, Key="b", Body=b"y" * 500)
    assert err.value.response["Error"]["Code"] == "QuotaExceeded"  # type: ignore[attr-defined]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403  # type: ignore[attr-defined]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == ["a"]
    with pytest.raises(Exception) as err:  # a copy stores the bytes again
        s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "a"})
    assert err.value.response["Error"]["Code"] == "QuotaExceeded"  # type: ignore[attr-defined]
    s3.put_object(Bucket=bucket, Key="b", Body=b"y" * 100)
    s3.put_object(Bucket=bucket, Key="c", Body=b"z" * 100)  # 3 objects: the object limit
    with pytest.raises(Exception) as err:
        s3.put_object(Bucket=bucket, Key="d", Body=b"")
    assert err.value.response["Error"]["Code"] == "QuotaExceeded"  # type: ignore[attr-defined]
    report = by_kind(owner)
    assert (report["storage_bytes"]["used"], report["storage_objects"]["used"]) == (800, 3)
    s3.delete_object(Bucket=bucket, Key="c")  # freed space is usable at once
    s3.put_object(Bucket=bucket, Key="d", Body=b"w" * 150)


def test_s3_multipart_parts_count_before_completion(low: LiveServer, owner: Client) -> None:
    s3 = s3_client(low, owner.storage.create_credentials())
    bucket = name("b")
    s3.create_bucket(Bucket=bucket)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=1, Body=b"p" * 700)
    with pytest.raises(Exception) as err:
        s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=2, Body=b"q" * 400)
    assert err.value.response["Error"]["Code"] == "QuotaExceeded"  # type: ignore[attr-defined]
    assert by_kind(owner)["storage_bytes"]["used"] == 700


def test_rest_upload_is_refused_when_the_bytes_are_used_up(owner: Client) -> None:
    bucket = name("b")
    owner.storage.create_bucket(bucket)
    owner.storage.put(bucket, "full", b"f" * 1000)
    refused(lambda: owner.storage.put(bucket, "more", b"m"))
    assert [o["key"] for o in owner.storage.list(bucket)["objects"]] == ["full"]


def test_concurrent_creates_do_not_pass_the_limit(owner: Client) -> None:
    statuses = concurrent_statuses([lambda: owner.queues.create(name()) for _ in range(8)])
    assert statuses == [201, 201] + [403] * 6
    assert len(owner.queues.list()) == 2
    statuses = concurrent_statuses([lambda: owner.secrets.create(name(), "v") for _ in range(6)])
    assert statuses == [201, 201] + [403] * 4
    assert len(owner.secrets.list()) == 2


def test_quotas_report_every_kind(owner: Client) -> None:
    quotas = by_kind(owner)
    assert set(quotas) >= {"instances", "instance_vcpus", "instance_memory_mb", "volume_gib", "snapshots",
                           "functions", "function_memory_mb", "buckets", "storage_bytes", "storage_objects",
                           "s3_credentials", "queues", "topics", "subscriptions", "cron_jobs", "secrets",
                           "api_keys"}
    assert quotas["instances"]["setting"] == "CUMULO_COMPUTE_MAX_INSTANCES"
    assert quotas["volume_gib"]["unit"] == "GiB" and quotas["storage_bytes"]["unit"] == "bytes"
    assert quotas["api_keys"]["used"] == 1  # the login key
    owner.queues.create(name())
    assert by_kind(owner)["queues"] == {**quotas["queues"], "used": 1}


def test_quotas_need_a_key(low: LiveServer) -> None:
    with Client(low.url) as anonymous, pytest.raises(ApiError) as err:
        anonymous.get("/quotas")
    assert err.value.status == 401


@pytest.mark.docker  # needs dockerd (instances or function runtimes)
def test_snapshots_are_capped_and_a_refused_one_leaves_no_archive(make_server) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    live = make_server(quota_snapshots=1)
    with register_and_login(live) as c:
        vol = c.post("/volumes", {"name": "capped", "size_gb": 1})
        try:
            c.post(f"/volumes/{vol['id']}/snapshots", {"description": "one"})
            refused(lambda: c.post("/snapshots", {"volume_id": vol["id"]}))
            assert len(c.get("/snapshots")) == 1
            assert len(list((Path(live.settings.data_dir) / "snapshots").glob("*.tar.gz"))) == 1
            assert by_kind(c)["snapshots"] == {**by_kind(c)["snapshots"], "used": 1, "limit": 1}
        finally:
            for snap in c.get("/snapshots"):
                c.delete(f"/snapshots/{snap['id']}")
            c.delete(f"/volumes/{vol['id']}")


def test_every_quota_is_in_the_readme_table() -> None:
    from pathlib import Path

    from cumulo.services.quotas.service import registry

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [f"{kind} ({q.setting})" for kind, q in registry().items()
               if f"| `{kind}` | `CUMULO_{q.setting.upper()}` |" not in readme]
    assert not missing, f"quotas missing from the README's quota table: {missing}"


def test_s3_usage_is_measured_again_in_the_background_keeping_what_was_admitted(low: LiveServer,
                                                                                 owner: Client) -> None:
    from cumulo.services.storage import usage

    s3 = s3_client(low, owner.storage.create_credentials())
    bucket = name("b")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=b"x" * 300)
    uid = owner.identity.me()["id"]

    async def stale_then_admit() -> tuple[float, float]:
        use = usage._uses(low.platform)[uid]
        use.measured, use.bytes = 0.0, 0.0  # as if measured long ago, and wrongly
        await usage.admit(low.platform, uid, 50)  # goes on at once; a measure starts
        assert use.refresh is not None
        await use.refresh
        return use.bytes, use.objects

    assert low.call(stale_then_admit()) == (300 + 50, 1 + 1)  # the stored bytes, plus what was just admitted
