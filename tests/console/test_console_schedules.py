"""In Chromium: a cron job (the API's message at the schedule field, create with a queue target,
run it now and see the run succeed) and a topic (create, subscribe a queue, the signing secret shown
once, publish, the delivery log shows it delivered)."""

from __future__ import annotations

from collections.abc import Callable

from tests.console.conftest import DESKTOP_GROUP, Account, uname

pytestmark = DESKTOP_GROUP


def test_cron_job_bad_schedule_create_run_now(account: Callable[[], Account]) -> None:
    acc = account()
    job, queue = uname("report"), uname("ticks")
    assert acc.api.post("/queues", json={"name": queue}).status_code == 201
    try:
        page = acc.log_in("Cron jobs")
        page.get_by_label("Job name").fill(job)
        page.get_by_label("Schedule").fill("every tuesday")
        page.get_by_label("Target type").select_option("queue")
        page.get_by_label("Target (URL, or queue/topic/function name)").fill(queue)
        page.get_by_label("Payload").fill("tick")
        page.get_by_role("button", name="Create job").click()
        error = page.locator(".field", has=page.get_by_label("Schedule")).locator(".field-error")
        error.wait_for()
        assert acc.api.get("/cron").json() == []
        assert error.inner_text() == acc.api.post("/cron", json={"name": job, "schedule": "every tuesday",
                                                                 "target_type": "queue", "target_id": queue}
                                                  ).json()["error"]["details"][0]["message"]
        page.get_by_label("Schedule").fill("@daily")
        assert f"--queue {queue}" in (page.locator(".snippet pre").first.text_content() or "")
        page.get_by_role("button", name="Create job").click()
        page.get_by_role("heading", name=job).wait_for()
        page.get_by_text("No runs yet.").wait_for()
        page.get_by_role("button", name="Run now").click()
        page.locator("#runs tbody tr [data-status=succeeded]").wait_for(timeout=60_000)
        assert acc.api.get(f"/queues/{queue}/stats").json()["total"] == 1
    finally:
        acc.api.delete(f"/cron/{job}")
        acc.api.delete(f"/queues/{queue}")


def test_topic_subscribe_queue_publish_delivery_log(account: Callable[[], Account]) -> None:
    acc = account()
    topic, queue = uname("orders"), uname("inbox")
    assert acc.api.post("/queues", json={"name": queue}).status_code == 201
    try:
        page = acc.log_in("Topics")
        page.get_by_label("New topic name").fill(topic)
        page.get_by_role("button", name="Create topic").click()
        page.get_by_role("link", name=topic).click()
        page.get_by_label("Protocol").select_option("queue")
        page.get_by_label("Endpoint (URL or queue name)").fill(queue)
        page.get_by_role("button", name="Subscribe").click()
        assert len(page.locator("#signing-secret").inner_text()) >= 16  # shown this once
        page.get_by_label("Message", exact=True).fill("order 42")
        page.get_by_role("button", name="Publish").click()
        page.get_by_text("Published to 1 subscription(s)").wait_for()
        page.get_by_role("button", name="Delivery log").click()
        page.locator("#deliveries [data-status=delivered]").wait_for(timeout=60_000)
        assert "#1" in page.locator("#deliveries ul.log").inner_text()
        assert "order 42" in acc.api.get(f"/queues/{queue}/messages").json()[0]["body"]
    finally:
        acc.api.delete(f"/topics/{topic}")
        acc.api.delete(f"/queues/{queue}")
