"""Cron jobs and topic subscriptions targeting a function (``protocol``/``target_type: function``)."""

from __future__ import annotations

import uuid

import pytest

from cumulo.client import Client
from tests.services.functions.test_functions_exec import fname, wait_for

pytestmark = pytest.mark.docker  # needs dockerd: `pytest -m 'not docker'` skips it


def test_cron_and_topic_trigger_a_function(sqlite_user: Client, py_zip: bytes) -> None:
    c = sqlite_user
    fn = c.functions.create(fname(), "python", py_zip)
    job = c.cron.create(f"job-{uuid.uuid4().hex[:6]}", "0 0 1 1 *", target_type="function", target_id=fn["name"],
                        payload='{"from": "cron"}')
    assert job["target_id"] == fn["id"]
    c.cron.run(job["id"])
    cron_call = wait_for(lambda: [i for i in c.functions.invocations(fn["id"]) if i["source"] == "cron"], "cron call")
    assert cron_call[0]["status"] == "SUCCESS" and cron_call[0]["result"]["echo"]["payload"] == {"from": "cron"}

    topic = c.notify.create_topic(f"t-{uuid.uuid4().hex[:6]}")
    c.notify.subscribe(topic["id"], "function", fn["id"])
    c.notify.publish(topic["id"], "hello from a topic")
    topic_call = wait_for(lambda: [i for i in c.functions.invocations(fn["id"]) if i["source"] == "topic"],
                          "topic call")
    assert topic_call[0]["result"]["echo"]["message"] == "hello from a topic"
