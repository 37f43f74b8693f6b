"""In Chromium: an auto-scaling group (the API's message at a size field, create, raise the desired
capacity and see the activity and the member), a deployment's revisions with a confirmed rollback,
and the CPU/memory charts of a deployment (its replicas summed) and of a database."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.console.conftest import GROUP_B, Account, uname

pytestmark = [pytest.mark.docker, GROUP_B]


def test_autoscaling_group_create_scale_out_activity(account: Callable[[], Account]) -> None:
    acc = account()
    name = uname("workers")
    try:
        page = acc.log_in("Auto-scaling groups")
        page.get_by_label("Group name").fill(name)
        page.get_by_label("Image").fill("cumulo/busybox")
        page.get_by_label("Command (optional)").fill("sleep 3600")
        page.get_by_label("Minimum size").fill("0")
        page.get_by_label("Maximum size").fill("0")
        page.get_by_role("button", name="Create group").click()
        error = page.locator(".field", has=page.get_by_label("Maximum size")).locator(".field-error")
        error.get_by_text("greater than or equal to 1").wait_for()  # the API's message, at its field
        assert acc.api.get("/autoscaling/groups").json() == []
        page.get_by_label("Maximum size").fill("2")
        page.get_by_label("Desired capacity").fill("0")
        page.get_by_role("button", name="Create group").click()
        page.get_by_role("heading", name=name).wait_for()
        page.get_by_label("Desired", exact=True).fill("1")
        page.get_by_role("button", name="Save sizes").click()
        page.locator("#activities tbody tr", has_text="0 → 1").wait_for(timeout=60_000)  # live, no reload
        page.locator("#members tbody tr").first.wait_for(timeout=60_000)
        assert acc.api.get(f"/autoscaling/groups/{name}").json()["desired_capacity"] == 1
    finally:
        acc.api.delete(f"/autoscaling/groups/{name}")


def test_deployment_revisions_and_rollback(account: Callable[[], Account]) -> None:
    acc = account()
    name = uname("api")
    r = acc.api.post("/deployments", json={"name": name, "image": "cumulo/busybox", "replicas": 0,
                                           "command": ["sleep", "100"]})
    assert r.status_code == 201, r.text
    assert acc.api.patch(f"/deployments/{name}", json={"command": ["sleep", "200"]}).status_code == 200
    try:
        page = acc.log_in("Deployments")
        page.get_by_role("link", name=name).click()
        rows = page.locator("#revisions tbody tr")
        rows.nth(1).wait_for()
        assert rows.count() == 2
        page.get_by_role("button", name="Roll back to revision 1").click()
        page.get_by_role("dialog").get_by_role("button", name="Roll back").click()
        page.get_by_text("Rolling back to revision 1").wait_for()
        page.get_by_role("button", name="Roll back to revision 2").wait_for()  # revision 1 is current again
        assert acc.api.get(f"/deployments/{name}").json()["spec"]["command"] == ["sleep", "100"]
    finally:
        acc.api.delete(f"/deployments/{name}")


def _charts_grow(page, api, series: str) -> None:  # type: ignore[no-untyped-def]
    """The page's CPU and memory charts are drawn from the metrics API and redrawn with new samples."""
    cpu = page.get_by_role("img", name=re.compile(r"^CPU( \(\d+ replicas\))?: [0-9.]+ % now, \d+ samples$"))
    memory = page.get_by_role("img", name=re.compile(r"^Memory( \(\d+ replicas\))?: [0-9.]+ [KMG]?i?B now, \d+ samples$"))
    cpu.wait_for(timeout=180_000)
    memory.wait_for()
    samples = int(cpu.get_attribute("data-points") or 0)
    page.wait_for_function(
        "(n) => Number(document.querySelector('svg[aria-label^=\"CPU\"]').dataset.points) > n", arg=samples,
        timeout=120_000)
    assert len(api.get(series).json()["points"]) > samples


def test_deployment_and_database_pages_chart_cpu_and_memory(account: Callable[[], Account]) -> None:
    acc = account()
    dep, db = uname("charted"), uname("db")
    r = acc.api.post("/deployments", json={"name": dep, "image": "cumulo/busybox", "replicas": 2,
                                           "command": ["sleep", "3600"], "memory_mb": 32})
    assert r.status_code == 201, r.text
    made = acc.api.post("/databases", json={"name": db, "engine": "postgres", "memory_mb": 256, "storage_gb": 1})
    assert made.status_code == 201, made.text
    try:
        page = acc.log_in("Deployments")
        page.get_by_role("link", name=dep).click()
        page.get_by_role("heading", name="Metrics").wait_for()
        _charts_grow(page, acc.api, f"/deployments/{dep}/metrics")
        page.get_by_role("img", name=re.compile(r"^Memory \(2 replicas\)")).wait_for(timeout=120_000)
        acc.open("Databases")
        page.get_by_role("link", name=db).click()
        page.get_by_role("heading", name="Metrics").wait_for()
        _charts_grow(page, acc.api, f"/databases/{db}/metrics/series")
        page.get_by_label("New database name").fill("Not Valid!")  # restore: the API's message at the field
        page.get_by_role("button", name="Restore into a new database").click()
        error = page.locator(".field", has=page.get_by_label("New database name")).locator(".field-error")
        error.wait_for()
        expected = acc.api.post(f"/databases/{db}/restore", json={"name": "Not Valid!", "restore_time": "2026-01-01T00:00:00Z"})
        assert error.inner_text() == next(d["message"] for d in expected.json()["error"]["details"] if d["field"] == "name")
        assert [d["name"] for d in acc.api.get("/databases").json()] == [db]  # nothing made
        page.get_by_text("Resize or change backups").click()
        page.get_by_label("Keep backups (days)").fill("40")
        page.get_by_role("button", name="Save changes").click()
        page.locator(".field", has=page.get_by_label("Keep backups (days)")).get_by_text("less than or equal to 35").wait_for()
        page.get_by_label("Keep backups (days)").fill("9")
        page.get_by_role("button", name="Save changes").click()
        page.get_by_text("kept 9 days").wait_for()
        assert acc.api.get(f"/databases/{db}").json()["backup_retention_days"] == 9
    finally:
        acc.api.delete(f"/deployments/{dep}")
        acc.api.delete(f"/databases/{db}")
