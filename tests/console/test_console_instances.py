"""In Chromium: launch an instance from the form and watch it reach RUNNING without a reload (live
updates over server-sent events), open its terminal and run a command, stop and start it, and
terminate it with confirmation; a bad name shows the API's message at the field; bulk actions; a
thousand instances listed a page at a time, searched on the server; the edit form; a VM's screen
through noVNC (a cumulo/desktop instance's desktop is in ``test_remote_desktop``)."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.console.conftest import DESKTOP_GROUP, Account, uname

pytestmark = DESKTOP_GROUP


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
        page.locator(".live[data-state=live]").wait_for()  # over the event stream, not polling (a host network
        # change, e.g. the bridge of this user's new VPC, may have dropped the stream a moment: it reconnects)

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


def test_a_vms_screen_in_the_page_over_vnc(account: Callable[[], Account]) -> None:
    """A VM's page shows its screen through noVNC (vendored, no CDN) over /vm/{id}/vnc, the session
    cookie authenticating the socket; a container's page has no screen."""
    acc = account()
    name, ctr = uname("vm"), uname("ctr")
    try:
        vm = acc.api.post("/instances", json={"name": name, "image": "cumulo/busybox", "backend": "vm",
                                              "memory_mb": 256, "command": ["sleep", "3600"]}, timeout=600)
        assert vm.status_code == 201 and vm.json()["status"] == "RUNNING", vm.text
        r = acc.api.post("/instances", json={"name": ctr, "image": "cumulo/busybox", "command": ["sleep", "3600"]})
        assert r.status_code == 201, r.text
        page = acc.log_in()
        assets: list[str] = []
        page.on("request", lambda req: assets.append(req.url))
        page.goto(acc.url(f"/console/instances/{vm.json()['id']}"))
        page.get_by_role("heading", name="Screen").wait_for()
        page.get_by_role("button", name="Open screen").click()
        page.locator("#screen-state").get_by_text(re.compile(r"^Connected to QEMU \(cumulo-.+\)$")).wait_for(
            timeout=60_000)  # the RFB handshake went through the relay to this VM's display
        canvas = page.locator(".screen canvas")
        assert canvas.evaluate("c => c.width > 0 && c.height > 0")
        page.wait_for_function(  # the guest's console is drawn: some pixel of the framebuffer is lit
            """() => { const c = document.querySelector('.screen canvas');
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 0) return true;
                 return false; }""", timeout=60_000)
        assert any(u.endswith("/console/assets/vendor/novnc/core/rfb.js") for u in assets)
        assert all(u.startswith(acc.live.url) for u in assets)  # everything from Cumulo itself
        page.get_by_role("button", name="Close screen").click()
        assert page.locator(".screen canvas").count() == 0

        page.goto(acc.url(f"/console/instances/{r.json()['id']}"))
        page.get_by_role("heading", name=ctr).wait_for()
        assert not page.get_by_role("heading", name="Screen").is_visible()
    finally:
        for inst in acc.api.get("/instances").json():
            acc.api.delete(f"/instances/{inst['id']}", timeout=120)


def test_a_thousand_instances_are_listed_a_page_at_a_time_searched_on_the_server(
        account: Callable[[], Account]) -> None:
    from sqlalchemy import delete

    from cumulo.services.compute.models import Instance
    from tests.services.compute.test_paging import stopped_instances

    acc = account()
    user_id = acc.api.get("/auth/me").json()["id"]
    stopped_instances(acc.live, user_id, 1000, prefix="many")
    lists: list[str] = []
    try:
        page = acc.log_in()
        page.on("request", lambda req: lists.append(req.url) if "/instances?" in req.url else None)
        acc.open("Instances")
        page.get_by_text("Showing 1–50 of 1000 instances").wait_for()
        rows = page.locator("tbody tr")
        assert rows.count() == 50 and "many-0000" in rows.first.inner_text()
        assert all("limit=50" in u for u in lists)  # one page asked of the API, never the whole list
        page.get_by_role("button", name="Next").click()
        page.get_by_text("Showing 51–100 of 1000 instances").wait_for()
        assert "many-0050" in rows.first.inner_text()
        page.get_by_label("Filter").fill("MANY-0999")
        page.get_by_text("Showing 1–1 of 1 instances").wait_for()  # searched on the server, back to page 1
        assert "q=MANY-0999" in lists[-1] and "offset=0" in lists[-1]
        page.get_by_label("Select all shown").check()
        page.get_by_role("button", name="Delete selected").click()
        page.get_by_role("dialog").get_by_role("button", name="Terminate").click()
        page.get_by_text("No instance matches the filter.").wait_for()
        assert acc.api.get("/instances", params={"limit": 1}).headers["X-Total-Count"] == "999"
        page.get_by_label("Filter").fill("")
        page.get_by_label("Status", exact=True).select_option("RUNNING")
        page.get_by_text("No instance matches the filter.").wait_for()
        page.get_by_label("Status", exact=True).select_option("STOPPED")
        page.get_by_text("Showing 1–50 of 999 instances").wait_for()
    finally:
        async def remove() -> None:
            async with acc.live.platform.db.session() as session:  # type: ignore[union-attr]
                await session.execute(delete(Instance).where(Instance.user_id == user_id))
                await session.commit()

        acc.live.call(remove(), timeout=120)


def test_rename_an_instance_and_set_its_time_to_live_from_its_edit_form(account: Callable[[], Account]) -> None:
    from tests.services.compute.test_paging import stopped_instances

    acc = account()
    stopped_instances(acc.live, acc.api.get("/auth/me").json()["id"], 1, prefix="old")
    inst = acc.api.get("/instances").json()[0]
    new = uname("renamed")
    try:
        page = acc.log_in()
        page.goto(acc.url(f"/console/instances/{inst['id']}"))
        page.get_by_role("heading", name="old-0000").wait_for()
        page.get_by_text("Rename or change the time to live").click()
        assert page.get_by_label("Instance name").input_value() == "old-0000"  # filled from the instance
        page.get_by_label("Instance name").fill("Bad Name!")
        page.get_by_role("button", name="Save changes").click()
        error = page.locator(".field", has=page.get_by_label("Instance name")).locator(".field-error")
        error.wait_for()
        expected = acc.api.patch(f"/instances/{inst['id']}", json={"name": "Bad Name!"}).json()["error"]["details"]
        assert error.inner_text() == expected[0]["message"]  # the API's own message, at its field
        assert acc.api.get(f"/instances/{inst['id']}").json()["name"] == "old-0000"
        page.get_by_label("Instance name").fill(new)
        page.get_by_label("Time to live from now (seconds)").fill("3600")
        page.locator(".edit").get_by_text("curl equivalent").click()
        assert '"ttl_seconds":3600' in page.locator(".edit .snippet pre").last.inner_text()
        page.get_by_role("button", name="Save changes").click()
        page.get_by_role("heading", name=new).wait_for()  # redrawn from the API's answer
        got = acc.api.get(f"/instances/{inst['id']}").json()
        assert got["name"] == new and got["expires_at"]
        page.get_by_text("Rename or change the time to live").click()
        page.get_by_label("Remove the time limit").check()
        page.get_by_role("button", name="Save changes").click()
        page.get_by_text(f"{new} saved").last.wait_for()
        page.locator("dd", has_text="never").wait_for()
        assert acc.api.get(f"/instances/{inst['id']}").json()["expires_at"] is None
    finally:
        acc.api.delete(f"/instances/{inst['id']}")
