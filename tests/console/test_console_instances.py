"""In Chromium: launch an instance from the form and watch it reach RUNNING without a reload (live
updates over server-sent events), open its terminal and run a command, stop and start it, and
terminate it with confirmation; a bad name shows the API's message at the field."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.console.conftest import Account, uname

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("console")]


def badge(page, status: str):  # type: ignore[no-untyped-def]
    return page.locator(f"#instance-status [data-status={status}]")


def test_launch_watch_running_terminal_stop_start_and_terminate(account: Callable[[], Account]) -> None:
    acc = account()
    name = uname("web")
    try:
        page = acc.log_in("Instances")
        page.get_by_role("link", name="Launch instance").click()
        page.get_by_label("Name").fill(name)
        page.get_by_label("Image").fill("cumulo/busybox")
        page.get_by_label("Command").fill("sleep 3600")
        page.get_by_text("CLI equivalent").click()
        assert f"cumulo instances launch {name} --image cumulo/busybox" in page.locator(".snippet pre").first.inner_text()
        page.get_by_role("button", name="Launch").click()
        page.get_by_role("heading", name=name).wait_for()
        page.evaluate("window.__sameDocument = true")  # gone if the page were reloaded
        badge(page, "RUNNING").wait_for(timeout=120_000)
        assert page.evaluate("window.__sameDocument === true")
        assert page.locator(".live").get_attribute("data-state") == "live"  # over the event stream, not polling

        page.get_by_role("button", name="Open terminal").click()
        page.locator(".xterm").wait_for()
        page.get_by_text("Connected").wait_for()
        page.locator(".xterm").click()
        page.keyboard.type("echo console-$((6*7))\n")
        page.locator(".xterm-rows").get_by_text("console-42").wait_for()
        page.get_by_role("button", name="Close terminal").click()

        cpu = page.get_by_role("img", name=re.compile(r"^CPU: [0-9.]+ % now, \d+ samples$"))
        memory = page.get_by_role("img", name=re.compile(r"^Memory: [0-9.]+ [KMG]?i?B now, \d+ samples$"))
        cpu.wait_for(timeout=60_000)
        memory.wait_for()
        samples = int(cpu.get_attribute("data-points") or 0)
        page.wait_for_function(  # redrawn in place with the sampler's next points, no reload
            "(n) => Number(document.querySelector('svg[aria-label^=\"CPU\"]').dataset.points) > n", arg=samples,
            timeout=60_000)
        assert page.locator(".chart polyline").count() == 2
        assert len(acc.api.get(f"/instances/{name}/metrics").json()["points"]) > samples

        page.get_by_role("button", name=f"Stop {name}").click()
        badge(page, "STOPPED").wait_for(timeout=120_000)
        page.get_by_role("button", name="Start").click()
        badge(page, "RUNNING").wait_for(timeout=120_000)
        assert page.evaluate("window.__sameDocument === true")

        page.get_by_role("button", name=f"Terminate {name}").click()
        page.get_by_role("dialog").get_by_role("button", name="Terminate").click()
        page.wait_for_url("**/console/instances")
        page.get_by_text("No instances yet").wait_for()
    finally:
        for inst in acc.api.get("/instances").json():
            acc.api.delete(f"/instances/{inst['id']}")


def test_a_bad_launch_shows_the_apis_messages_at_the_fields(account: Callable[[], Account]) -> None:
    acc = account()
    page = acc.log_in()
    page.goto(acc.url("/console/instances/new"))
    page.get_by_label("Name").fill("Not A Valid Name!")
    page.get_by_label("Image").fill("cumulo/busybox")
    page.get_by_label("Memory (MiB)").fill("1")
    page.get_by_role("button", name="Launch").click()
    for label, field in (("Name", "name"), ("Memory (MiB)", "memory_mb")):
        box = page.get_by_label(label)
        error = page.locator(f"#{box.get_attribute('id')}-error")
        error.wait_for()
        api = acc.api.post("/instances", json={"name": "Not A Valid Name!", "image": "cumulo/busybox", "memory_mb": 1})
        expected = [d["message"] for d in api.json()["error"]["details"] if d["field"] == field]
        assert expected and error.inner_text() == expected[0]
        assert box.get_attribute("aria-invalid") == "true"
    assert acc.api.get("/instances").json() == []


def test_bulk_stop_and_delete_from_the_list(account: Callable[[], Account]) -> None:
    acc = account()
    names = [uname("bulk"), uname("bulk"), uname("keep")]
    try:
        for name in names:
            r = acc.api.post("/instances", json={"name": name, "image": "cumulo/busybox", "command": ["sleep", "3600"]})
            assert r.status_code == 201, r.text
        page = acc.log_in("Instances")
        rows = page.locator("tbody tr")
        rows.filter(has=page.locator("[data-status=RUNNING]")).nth(2).wait_for(timeout=120_000)
        page.get_by_label("Filter").fill("bulk")  # the filter narrows the list and "select all"
        rows.filter(has_text="keep-").wait_for(state="detached")
        page.get_by_label("Select all shown").check()
        page.get_by_role("button", name="Stop selected").click()
        for name in names[:2]:
            rows.filter(has_text=name).locator("[data-status=STOPPED]").wait_for(timeout=120_000)
        page.get_by_role("button", name="Delete selected").click()
        page.get_by_role("dialog").get_by_role("button", name="Terminate").click()
        page.get_by_text("No instance matches the filter.").wait_for()
        assert [i["name"] for i in acc.api.get("/instances").json()] == [names[2]]
        page.get_by_label("Filter").fill("")
        rows.filter(has_text=names[2]).locator("[data-status=RUNNING]").wait_for()  # the unselected one is untouched
    finally:
        for inst in acc.api.get("/instances").json():
            acc.api.delete(f"/instances/{inst['id']}")
