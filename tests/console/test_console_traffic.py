"""In Chromium: a load balancer (the API's message at the name field, create, add an instance as a
target and see its health, remove it after confirming) and a gateway route (bad prefix, create,
delete)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.console.conftest import GROUP_B, Account, uname

pytestmark = [pytest.mark.docker, GROUP_B]


def test_load_balancer_create_targets_health_remove(account: Callable[[], Account]) -> None:
    acc = account()
    name, inst = uname("web"), uname("backend")
    r = acc.api.post("/instances", json={"name": inst, "image": "cumulo/busybox", "command": ["sleep", "3600"]})
    assert r.status_code in (201, 202), r.text
    try:
        page = acc.log_in("Load balancers")
        page.get_by_label("Load balancer name").fill("Bad Name!")
        page.get_by_role("button", name="Create load balancer").click()
        field = page.locator(".field", has=page.get_by_label("Load balancer name")).locator(".field-error")
        field.get_by_text("lowercase letters").wait_for()  # the API's own message, at its field
        assert acc.api.get("/loadbalancers").json() == []
        page.get_by_label("Load balancer name").fill(name)
        page.get_by_label("Health check path").fill("/healthz")
        page.get_by_role("button", name="Create load balancer").click()
        page.get_by_role("heading", name=name).wait_for()
        page.get_by_text("GET /healthz every").wait_for()
        page.get_by_label("Instance", exact=True).select_option(label=f"{inst} ({r.json()['status']})")
        page.get_by_label("Port").fill("8080")
        page.get_by_role("button", name="Add target").click()
        row = page.locator("#targets tbody tr")
        row.get_by_role("link", name=inst).wait_for()
        assert row.locator("[data-label=Port]").inner_text() == "8080"
        assert row.locator("[data-label=Health] .badge").count() == 1
        page.get_by_role("button", name=f"Remove target {inst}:8080").click()
        page.get_by_role("dialog").get_by_role("button", name="Remove").click()
        page.get_by_text(f"{inst}:8080 removed").wait_for()
        lb = acc.api.get(f"/loadbalancers/{name}").json()
        assert all(t["health"] == "draining" for t in lb["targets"]), lb["targets"]
    finally:
        acc.api.delete(f"/loadbalancers/{name}")
        acc.api.delete(f"/instances/{inst}")


def test_route_bad_prefix_create_delete(account: Callable[[], Account]) -> None:
    acc = account()
    name = uname("api")
    try:
        page = acc.log_in("Routes")
        page.get_by_label("Route name").fill(name)
        page.get_by_label("Target").fill("http://127.0.0.1:9")
        page.get_by_label("Path prefix").fill("/a/../b")
        page.get_by_role("button", name="Create route").click()
        field = page.locator(".field", has=page.get_by_label("Path prefix")).locator(".field-error")
        field.get_by_text("no . or ..").wait_for()
        assert acc.api.get("/routes").json() == []
        page.get_by_label("Path prefix").fill("/v1/")
        page.get_by_label("Strip the prefix upstream").check()
        assert "--prefix /v1/ --strip-prefix" in page.locator(".snippet pre").first.text_content()
        page.get_by_role("button", name="Create route").click()
        row = page.locator("tbody tr", has_text=name)
        row.get_by_text("/v1", exact=True).wait_for()
        assert acc.api.get(f"/routes/{name}").json()["strip_prefix"] is True
        page.get_by_role("button", name=f"Delete {name}").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        page.get_by_text("No gateway routes yet.").wait_for()
        assert acc.api.get("/routes").json() == []
    finally:
        acc.api.delete(f"/routes/{name}")


def test_load_balancer_settings_edited_with_the_apis_message_at_the_field(account: Callable[[], Account]) -> None:
    acc = account()
    name = uname("edge")
    assert acc.api.post("/loadbalancers", json={"name": name}).status_code == 201
    try:
        page = acc.log_in("Load balancers")
        page.get_by_role("link", name=name).click()
        page.get_by_text("Edit settings").click()
        delay = page.get_by_label("Deregistration delay (seconds)")
        assert delay.input_value() == str(acc.api.get(f"/loadbalancers/{name}").json()["deregistration_delay_seconds"])
        delay.fill("5000")
        page.get_by_role("button", name="Save changes").click()
        error = page.locator(".field", has=delay).locator(".field-error")
        error.get_by_text("less than or equal to 3600").wait_for()  # the API's message, at its field
        delay.fill("15")
        page.get_by_label("Algorithm").select_option("least_conn")
        page.get_by_label("Health check path").fill("/ready")
        page.locator(".edit").get_by_text("CLI equivalent").click()
        assert "--algorithm least_conn --deregistration-delay 15 --health-path /ready" in \
            page.locator(".edit .snippet pre").first.inner_text()
        page.get_by_role("button", name="Save changes").click()
        page.get_by_text("GET /ready every").wait_for()
        lb = acc.api.get(f"/loadbalancers/{name}").json()
        assert (lb["algorithm"], lb["deregistration_delay_seconds"], lb["health_check"]["path"]) == ("least_conn", 15, "/ready")
    finally:
        acc.api.delete(f"/loadbalancers/{name}")
