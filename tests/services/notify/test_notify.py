"""Topics, subscriptions, signed webhook delivery, filter policies, retries and dead letters,
with a real HTTP receiver on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest

from cumulo.client import ApiError, Client
from tests.services.notify.receiver import Receiver, eventually

FAST = {"retry_base_seconds": 0.1, "timeout_seconds": 5}


def name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_topics_crud_unique_names_and_isolation(user: Client, other_user: Client) -> None:
    t = user.notify.create_topic(name())
    assert user.notify.topic(t["name"])["id"] == t["id"]
    assert t["subscriptions"] == 0
    with pytest.raises(ApiError) as err:
        user.notify.create_topic(t["name"])
    assert err.value.status == 409
    for call in (lambda: other_user.notify.topic(t["id"]), lambda: other_user.notify.publish(t["id"], "x"),
                 lambda: other_user.notify.delete_topic(t["id"]),
                 lambda: other_user.notify.subscribe(t["id"], "webhook", "http://127.0.0.1:9/x")):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 404
    assert t["id"] not in [x["id"] for x in other_user.notify.topics()]
    with pytest.raises(ApiError) as err:
        user.post("/topics", {"name": "no spaces"})
    assert err.value.status == 400
    user.notify.delete_topic(t["id"])
    assert t["id"] not in [x["id"] for x in user.notify.topics()]


@pytest.mark.parametrize("protocol,endpoint,extra,status", [
    ("carrier-pigeon", "http://127.0.0.1:9/x", {}, 400),
    ("webhook", "not a url", {}, 400),
    ("webhook", "ftp://127.0.0.1/x", {}, 400),
    ("webhook", "http://169.254.169.254/latest/meta-data", {}, 400),
    ("webhook", "http://[fe80::1]/x", {}, 400),
    ("webhook", "http://user:pw@127.0.0.1:9/x", {}, 400),
    ("queue", "no-such-queue", {}, 404),
    ("webhook", "http://127.0.0.1:9/x", {"filter_policy": {"k": [{"bogus": 1}]}}, 400),
    ("webhook", "http://127.0.0.1:9/x", {"filter_policy": {"k": [{"numeric": [">", "a"]}]}}, 400),
    ("webhook", "http://127.0.0.1:9/x", {"delivery_policy": {"max_attempts": 0}}, 400),
    ("webhook", "http://127.0.0.1:9/x", {"dead_letter_queue": "nope"}, 404),
])
def test_bad_subscriptions_are_refused_and_create_nothing(user: Client, protocol: str, endpoint: str,
                                                         extra: dict, status: int) -> None:
    t = user.notify.create_topic(name())
    with pytest.raises(ApiError) as err:
        user.notify.subscribe(t["id"], protocol, endpoint, **extra)
    assert err.value.status == status, err.value.message
    assert user.notify.subscriptions(t["id"]) == []


def test_own_api_port_is_refused(user: Client, server) -> None:  # type: ignore[no-untyped-def]
    t = user.notify.create_topic(name())
    for url in (f"http://127.0.0.1:{server.settings.port}/auth/me", f"http://localhost:{server.settings.s3_port}/"):
        with pytest.raises(ApiError) as err:
            user.notify.subscribe(t["id"], "webhook", url)
        assert err.value.status == 400 and "Cumulo" in err.value.message


def test_signed_webhook_delivery_and_delivery_log(user: Client, other_user: Client, receiver: Receiver) -> None:
    t = user.notify.create_topic(name())
    sub = user.notify.subscribe(t["name"], "webhook", receiver.url)
    secret = sub.pop("signing_secret")
    assert secret.startswith("whsec_")
    assert "signing_secret" not in user.notify.subscription(sub["id"])
    assert all("signing_secret" not in s for s in user.notify.subscriptions())
    assert secret not in json.dumps(user.events(200))
    with pytest.raises(ApiError) as err:
        user.notify.subscribe(t["id"], "webhook", receiver.url)
    assert err.value.status == 409
    with pytest.raises(ApiError) as err:
        other_user.notify.deliveries(sub["id"])
    assert err.value.status == 404

    out = user.notify.publish(t["id"], "hello subscribers", subject="greeting", attributes={"kind": "hi"})
    assert out["deliveries"] == 1
    req = receiver.wait_for(1)[0]
    expected = "sha256=" + hmac.new(secret.encode(), req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-Cumulo-Signature"] == expected
    envelope = json.loads(req.body)
    assert envelope["message"] == "hello subscribers" and envelope["subject"] == "greeting"
    assert envelope["message_id"] == out["message_id"] and envelope["topic"] == t["name"]
    assert envelope["attributes"] == {"kind": "hi"}
    log = eventually(lambda: [d for d in user.notify.deliveries(sub["id"]) if d["status"] == "delivered"])
    assert log[0]["attempts"] == 1 and log[0]["log"][0]["status_code"] == 200
    assert log[0]["log"][0]["latency_ms"] >= 0


def test_filter_policies_choose_subscribers(user: Client, receiver: Receiver) -> None:
    t = user.notify.create_topic(name())
    subs = {
        "exact": {"color": ["red", "blue"]},
        "prefix": {"region": [{"prefix": "eu-"}]},
        "numeric": {"price": [{"numeric": [">=", 10, "<", 100]}]},
        "anything-but": {"color": [{"anything-but": ["red"]}]},
    }
    ids = {}
    for label, policy in subs.items():
        ids[label] = user.notify.subscribe(t["id"], "webhook", f"{receiver.url}?{label}", filter_policy=policy)["id"]
    out = user.notify.publish(t["id"], "m1", attributes={"color": "red", "region": "eu-west", "price": 5})
    assert out["deliveries"] == 2  # exact and prefix
    out = user.notify.publish(t["id"], "m2", attributes={"color": "green", "price": 50})
    assert out["deliveries"] == 2  # numeric and anything-but
    got = receiver.wait_for(4)
    assert sorted(r.path.split("?")[1] + ":" + json.loads(r.body)["message"] for r in got) == [
        "anything-but:m2", "exact:m1", "numeric:m2", "prefix:m1"]


def test_queue_protocol_delivers_into_the_owners_queue(user: Client, other_user: Client) -> None:
    q = user.queues.create(name("q"))
    raw_q = user.queues.create(name("q"))
    t = user.notify.create_topic(name())
    user.notify.subscribe(t["id"], "queue", q["name"])
    user.notify.subscribe(t["id"], "queue", raw_q["id"], raw_message_delivery=True)
    with pytest.raises(ApiError) as err:  # someone else's queue is not found
        other_user.notify.subscribe(other_user.notify.create_topic(name())["id"], "queue", q["id"])
    assert err.value.status == 404
    user.notify.publish(t["id"], "to the queue", attributes={"n": 1})
    got = user.queues.receive(q["id"], wait_seconds=20)
    envelope = json.loads(got[0]["body"])
    assert envelope["message"] == "to the queue" and got[0]["attributes"] == {"n": 1}
    assert user.queues.receive(raw_q["id"], wait_seconds=20)[0]["body"] == "to the queue"


def test_failing_webhook_is_retried_with_backoff_until_it_succeeds(user: Client) -> None:
    with Receiver(statuses=[500, 503]) as receiver:
        t = user.notify.create_topic(name())
        sub = user.notify.subscribe(t["id"], "webhook", receiver.url, delivery_policy={**FAST, "max_attempts": 5})
        user.notify.publish(t["id"], "try again")
        got = receiver.wait_for(3)
        assert [r.headers["X-Cumulo-Delivery-Attempt"] for r in got] == ["1", "2", "3"]
        assert len({r.body for r in got}) == 1
        done = eventually(lambda: [d for d in user.notify.deliveries(sub["id"]) if d["status"] == "delivered"])
        assert [a["status_code"] for a in done[0]["log"]] == [500, 503, 200]


def test_dead_letter_after_the_retry_budget_and_on_permanent_failure(user: Client) -> None:
    dlq = user.queues.create(name("dlq"))
    with Receiver(default=500) as failing, Receiver(default=404) as missing:
        t = user.notify.create_topic(name())
        sub = user.notify.subscribe(t["id"], "webhook", failing.url, dead_letter_queue=dlq["name"],
                                    delivery_policy={**FAST, "max_attempts": 3})
        gone = user.notify.subscribe(t["id"], "webhook", missing.url, dead_letter_queue=dlq["id"],
                                     delivery_policy={**FAST, "max_attempts": 3})
        user.notify.publish(t["id"], "doomed")
        dead = eventually(lambda: [d for d in user.notify.deliveries(sub["id"]) if d["status"] == "dead_lettered"])
        assert dead[0]["attempts"] == 3 and [a["status_code"] for a in dead[0]["log"]] == [500, 500, 500]
        dead = eventually(lambda: [d for d in user.notify.deliveries(gone["id"]) if d["status"] == "dead_lettered"])
        assert dead[0]["attempts"] == 1  # a 404 is final: no retries
        letters = user.queues.receive(dlq["id"], max_messages=10, wait_seconds=5)
        letters += user.queues.receive(dlq["id"], max_messages=10, wait_seconds=1)
        bodies = [json.loads(m["body"]) for m in letters]
        assert sorted(b["status_code"] for b in bodies) == [404, 500]
        assert all(b["message"] == "doomed" for b in bodies)
        assert len(failing.requests) == 3 and len(missing.requests) == 1
