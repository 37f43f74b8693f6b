"""In Chromium: volume snapshots (take one from the volume's row, restore it into a new volume, the
API's message at the name field first) and disks (the API's message at the size field, create, take
an internal snapshot, revert to it after confirming, delete)."""

from __future__ import annotations

from collections.abc import Callable

from tests.console.conftest import DESKTOP_GROUP, Account, uname

pytestmark = DESKTOP_GROUP


def test_volume_snapshot_and_restore(account: Callable[[], Account]) -> None:
    acc = account()
    vol, copy = uname("data"), uname("copy")
    assert acc.api.post("/volumes", json={"name": vol, "size_gb": 1}).status_code == 201
    try:
        page = acc.log_in("Volumes")
        page.get_by_role("button", name=f"Snapshot {vol}").click()
        page.get_by_text(f"{vol}: snapshot taken").wait_for()
        acc.open("Snapshots")
        page.locator("tbody tr", has_text=vol).get_by_role("button", name="Restore").click()
        name_field = page.get_by_label(f"New volume from {vol}'s snapshot")
        name_field.fill("Bad Name!")
        page.get_by_role("button", name="Restore", exact=True).click()
        page.locator(".field", has=name_field).locator(".field-error").wait_for()
        assert [v["name"] for v in acc.api.get("/volumes").json()] == [vol]
        name_field.fill(copy)
        page.get_by_role("button", name="Restore", exact=True).click()
        page.get_by_text(f"Restored into volume {copy}").wait_for()
        assert sorted(v["name"] for v in acc.api.get("/volumes").json()) == sorted([vol, copy])
    finally:
        for snap in acc.api.get("/snapshots").json():
            acc.api.delete(f"/snapshots/{snap['id']}")
        acc.api.delete(f"/volumes/{copy}")
        acc.api.delete(f"/volumes/{vol}")


def test_disk_create_snapshot_revert_delete(account: Callable[[], Account]) -> None:
    acc = account()
    name = uname("disk")
    try:
        page = acc.log_in("Disks")
        page.get_by_label("Disk name").fill(name)
        page.get_by_label("Size (GiB)").fill("0")
        page.get_by_role("button", name="Create disk").click()
        error = page.locator(".field", has=page.get_by_label("Size (GiB)")).locator(".field-error")
        error.get_by_text("greater than or equal to 1").wait_for()
        assert acc.api.get("/disks").json() == []
        page.get_by_label("Size (GiB)").fill("1")
        page.get_by_role("button", name="Create disk").click()
        page.get_by_role("link", name=name).click()
        page.get_by_role("heading", name=name).wait_for()
        page.get_by_label("Snapshot name").fill("before")
        page.get_by_role("button", name="Take snapshot").click()
        page.locator("#disk-snapshots tbody tr", has_text="before").wait_for()
        page.get_by_role("button", name="Revert to before").click()
        page.get_by_role("dialog").get_by_role("button", name="Revert").click()
        page.get_by_text("Reverted to before").wait_for()
        page.get_by_role("link", name="← All disks").click()
        page.get_by_role("button", name=f"Delete {name}").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        page.get_by_text("No disks yet.").wait_for()
    finally:
        acc.api.delete(f"/disks/{name}")
