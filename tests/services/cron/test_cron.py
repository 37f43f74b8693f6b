"""Cron jobs through the HTTP API with a real HTTP receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, update

from cumulo.client import ApiError, Client
from cumulo.db.engine import sync_url
from cumulo.services.cron.models import CronJob
from cumulo.testing.server import LiveServer
from tests.conftest import register_and_login
from tests.services.notify.receiver import Receiver, eventually


def jname() -> str:
    return f"job-{uuid.uuid4().hex[:10]}"


def when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def test_create_get_list_update_delete(user: Client, other_user: Client) -> None:
    job = user.cron.create(jname(), "0 3 * * *", target_url="http://127.0.0.1:9/cleanup", timezone="Europe/Paris",
                           headers={"Authorization": "Bearer s3cret", "X-Trace": "on"})
    assert job["status"] == "ACTIVE" and job["method"] == "POST" and job["target_type"] == "http"
    nxt = when(job["next_run_at"])
    assert nxt > dt.datetime.now(dt.UTC)
    assert nxt.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")).hour == 3
    assert job["headers"] == {"Authorization": "***", "X-Trace": "on"}
    assert "s3cret" not in json.dumps(user.events(200))
    assert user.cron.get(job["name"])["id"] == job["id"]
    assert job["id"] in [j["id"] for j in user.cron.list()]
    with pytest.raises(ApiError) as err:
        user.cron.create(job["name"], "@daily", target_url="http://127.0.0.1:9/x")
    assert err.value.status == 409
    for call in (lambda: other_user.cron.get(job["id"]), lambda: other_user.cron.pause(job["id"]),
                 lambda: other_user.cron.run(job["id"]), lambda: other_user.cron.runs(job["id"]),
                 lambda: other_user.cron.delete(job["id"])):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 404
    updated = user.cron.update(job["id"], schedule="rate(5 minutes)", method="GET")
    assert updated["schedule"] == "rate(5 minutes)" and updated["method"] == "GET"
    assert when(updated["next_run_at"]) - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=5)
    user.cron.delete(job["id"])
    with pytest.raises(ApiError) as err:
        user.cron.get(job["id"])
    assert err.value.status == 404


@pytest.mark.parametrize("fields,why", [
    ({"schedule": "61 * * * *", "target_url": "http://127.0.0.1:9/x"}, "not valid cron"),
    ({"schedule": "* * *", "target_url": "http://127.0.0.1:9/x"}, "exactly 5"),
    ({"schedule": "@fortnightly", "target_url": "http://127.0.0.1:9/x"}, "descriptor"),
    ({"schedule": "rate(0 minutes)", "target_url": "http://127.0.0.1:9/x"}, "at least 1"),
    ({"schedule": "@daily", "timezone": "Mars/Olympus", "target_url": "http://127.0.0.1:9/x"}, "time zone"),
    ({"schedule": "@daily"}, "target_url"),
    ({"schedule": "@daily", "target_url": "http://169.254.169.254/"}, "link-local"),
    ({"schedule": "@daily", "target_type": "pigeon", "target_id": "x"}, "unknown target_type"),
    ({"schedule": "@daily", "target_type": "queue", "target_id": "no-such-queue"}, "not found"),
    ({"schedule": "@daily", "target_url": "http://127.0.0.1:9/x", "method": "FETCH"}, "method"),
    ({"schedule": "@daily", "target_url": "http://127.0.0.1:9/x", "headers": {"Bad Header": "x"}}, "header"),
])
def test_invalid_jobs_are_refused_with_a_reason(user: Client, fields: dict, why: str) -> None:
    before = len(user.cron.list())
    with pytest.raises(ApiError) as err:
        user.post("/cron", {"name": jname(), **fields})
    assert err.value.status in (400, 404)
    assert why in err.value.message
    assert len(user.cron.list()) == before


def test_http_job_runs_on_schedule_once_per_time_with_history(user: Client, receiver: Receiver) -> None:
    job = user.cron.create(jname(), "rate(1 second)", target_url=receiver.url, payload='{"hello": 1}')
    got = receiver.wait_for(3)
    user.cron.pause(job["id"])
    assert json.loads(got[0].body) == {"hello": 1} and got[0].headers["Content-Type"] == "application/json"
    times = [r.headers["X-Cumulo-Scheduled-At"] for r in got]
    assert len(set(times)) == len(times)
    runs = eventually(lambda: [r for r in user.cron.runs(job["id"]) if r["status"] == "succeeded"][2:] and
                      user.cron.runs(job["id"]))
    assert len({r["scheduled_at"] for r in runs}) == len(runs)
    ok = [r for r in runs if r["status"] == "succeeded"]
    assert ok[0]["status_code"] == 200 and ok[0]["response_excerpt"] == "status 200"
    assert ok[0]["duration_ms"] >= 0 and ok[0]["trigger"] == "schedule" and ok[0]["attempts"] == 1


def test_pause_resume_and_manual_run(user: Client, receiver: Receiver) -> None:
    job = user.cron.create(jname(), "0 0 1 1 *", target_url=receiver.url, method="PUT")
    paused = user.cron.pause(job["name"])
    assert paused["status"] == "PAUSED" and paused["next_run_at"] is None
    run = user.cron.run(job["id"])  # a manual run works while paused
    assert run["trigger"] == "manual" and run["status"] == "running"
    assert receiver.wait_for(1)[0].method == "PUT"
    done = eventually(lambda: [r for r in user.cron.runs(job["id"]) if r["status"] == "succeeded"])
    assert done[0]["id"] == run["id"]
    resumed = user.cron.resume(job["id"])
    assert resumed["status"] == "ACTIVE" and when(resumed["next_run_at"]).month == 1


def test_paused_job_does_not_run(user: Client, receiver: Receiver) -> None:
    job = user.cron.create(jname(), "rate(1 second)", target_url=receiver.url)
    receiver.wait_for(1)
    user.cron.pause(job["id"])
    time.sleep(1.5)  # let a run started just before the pause finish
    count = len(receiver.requests)
    time.sleep(2.5)
    assert len(receiver.requests) == count


def test_failed_runs_are_retried_and_recorded(user: Client) -> None:
    with Receiver(statuses=[500, 500, 500, 500, 500, 500], default=200) as receiver:
        job = user.cron.create(jname(), "0 0 1 1 *", target_url=receiver.url, retries=1)
        user.cron.run(job["id"])
        run = eventually(lambda: [r for r in user.cron.runs(job["id"]) if r["status"] != "running"])[0]
        assert run["status"] == "failed" and run["attempts"] == 2 and run["status_code"] == 500
        assert run["error"] == "HTTP 500" and len(receiver.requests) == 2


def test_queue_and_topic_targets(user: Client) -> None:
    q = user.queues.create(f"q-{uuid.uuid4().hex[:8]}")
    job = user.cron.create(jname(), "@yearly", target_type="queue", target_id=q["name"], payload="tick")
    assert job["target_id"] == q["id"] and job["target_url"] is None
    user.cron.run(job["id"])
    msg = user.queues.receive(q["id"], wait_seconds=20)[0]
    assert msg["body"] == "tick" and msg["attributes"]["cron_job"] == job["id"]
    t = user.notify.create_topic(f"t-{uuid.uuid4().hex[:8]}")
    fan = user.queues.create(f"q-{uuid.uuid4().hex[:8]}")
    user.notify.subscribe(t["id"], "queue", fan["id"], raw_message_delivery=True)
    job = user.cron.create(jname(), "@yearly", target_type="topic", target_id=t["name"])
    user.cron.run(job["name"])
    body = json.loads(user.queues.receive(fan["id"], wait_seconds=20)[0]["body"])
    assert body["job_id"] == job["id"] and body["scheduled_at"]


def test_slow_job_is_never_started_twice_for_one_time(user: Client) -> None:
    with Receiver(delay=2.5) as receiver:
        job = user.cron.create(jname(), "rate(1 second)", target_url=receiver.url, timeout_seconds=10)
        got = receiver.wait_for(4)
        user.cron.pause(job["id"])
        times = [r.headers["X-Cumulo-Scheduled-At"] for r in got]
        assert len(set(times)) == len(times)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
        return
    yield request.getfixturevalue("new_pg_database")


def test_several_workers_run_each_time_exactly_once(make_server: Callable[..., LiveServer],
                                                    database_url: str, receiver: Receiver) -> None:
    first = make_server(database_url=database_url)
    second = make_server(database_url=database_url)
    with register_and_login(first) as c:
        job = c.cron.create(jname(), "rate(1 second)", target_url=receiver.url)
        got = receiver.wait_for(6)
        c.cron.pause(job["id"])
        times = [r.headers["X-Cumulo-Scheduled-At"] for r in got]
        assert len(set(times)) == len(times)
        runs = c.cron.runs(job["id"], limit=500)
        assert len({r["scheduled_at"] for r in runs}) == len(runs)
    assert second.platform is not None and second.platform.runner.loops["cron.scheduler"].runs > 0


def test_missed_runs_run_once_or_are_skipped_after_downtime(make_server: Callable[..., LiveServer],
                                                            database_url: str, receiver: Receiver) -> None:
    server = make_server(database_url=database_url)
    with register_and_login(server) as c:
        key = c.api_key
        once = c.cron.create(jname(), "*/5 * * * *", target_url=receiver.url + "?once", missed_runs="run_once")
        skip = c.cron.create(jname(), "*/5 * * * *", target_url=receiver.url + "?skip", missed_runs="skip")
    server.stop()
    missed = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    engine = create_engine(sync_url(server.settings.resolved_database_url))
    with engine.begin() as conn:  # the server was down for two hours
        conn.execute(update(CronJob.__table__).values(next_run_at=missed))
    engine.dispose()
    again = make_server(database_url=database_url, data_dir=str(server.settings.data_dir))
    with Client(again.url, api_key=key) as c:
        runs = eventually(lambda: c.cron.runs(once["id"]))
        assert len(runs) == 1 and when(runs[0]["scheduled_at"]) == missed
        assert eventually(lambda: when(c.cron.get(skip["id"])["next_run_at"]) > dt.datetime.now(dt.UTC))
        assert when(c.cron.get(once["id"])["next_run_at"]) > dt.datetime.now(dt.UTC)
        assert c.cron.runs(skip["id"]) == []
    assert [r.path for r in receiver.wait_for(1)] == ["/hook?once"]
