"""In Chromium: a bucket (create, upload with progress, browse a folder, download, delete), a queue
(create, send, peek, receive) and a function (deploy a zip, invoke with JSON, see its log)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cumulo.client.functions import zip_files
from tests.console.conftest import GROUP_B, Account, uname

pytestmark = [pytest.mark.docker, GROUP_B]


def test_bucket_upload_with_progress_browse_download_delete(account: Callable[[], Account], tmp_path: Path) -> None:
    acc = account()
    bucket = uname("files")
    payload = tmp_path / "report.bin"
    payload.write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    try:
        page = acc.log_in("Buckets")
        page.get_by_label("New bucket name").fill(bucket)
        page.get_by_role("button", name="Create bucket").click()
        page.get_by_role("link", name=bucket).click()
        page.get_by_label("Files to upload").set_input_files(str(payload))
        page.get_by_label("Into folder").fill("reports/2026/")
        page.get_by_role("button", name="Upload", exact=True).click()
        done = page.locator(".upload[data-done=true]")
        done.wait_for()
        bar = done.locator("progress")
        assert bar.get_attribute("aria-label") == "Upload of report.bin"
        assert page.evaluate("(el) => el.value === el.max && el.max > 0", bar.element_handle())
        page.get_by_role("link", name="📁 reports/").click()  # prefixes browse like folders
        page.get_by_role("link", name="📁 2026/").click()
        assert page.get_by_role("navigation", name="Path").inner_text().endswith("reports / 2026")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download").click()
        saved = tmp_path / "downloaded.bin"
        download.value.save_as(saved)
        assert saved.read_bytes() == payload.read_bytes()
        page.get_by_role("button", name="Presigned link to reports/2026/report.bin").click()
        page.get_by_role("button", name="Create link").click()  # no S3 credential yet: the API's message
        page.get_by_role("alert").get_by_text("create one first").wait_for()
        access_key = acc.api.post("/storage/credentials", json={"name": "links"}).json()["access_key_id"]
        page.get_by_label("Link to reports/2026/report.bin valid for").select_option(label="15 minutes")
        page.get_by_role("button", name="Create link").click()
        url = page.locator("#presigned-url").inner_text()
        assert url.startswith("http") and "X-Amz-Expires=900" in url
        assert httpx.get(url).content == payload.read_bytes()  # no cookie, no key: the link alone
        acc.api.delete(f"/storage/credentials/{access_key}")
        page.get_by_role("button", name="Delete reports/2026/report.bin").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        page.get_by_text("This folder is empty").wait_for()
        assert acc.api.get(f"/storage/{bucket}").json()["objects"] == []
    finally:
        for obj in acc.api.get(f"/storage/{bucket}").json().get("objects", []):
            acc.api.delete(f"/storage/{bucket}/{obj['key']}")
        acc.api.delete(f"/storage/buckets/{bucket}")


def test_queue_create_send_peek_receive(account: Callable[[], Account]) -> None:
    acc = account()
    name = uname("jobs")
    try:
        page = acc.log_in("Queues")
        page.get_by_label("New queue name").fill(name)
        page.get_by_role("button", name="Create queue").click()
        page.get_by_role("link", name=name).click()
        page.get_by_label("Message body").fill('{"job": 7}')
        page.get_by_role("button", name="Send message").click()
        page.locator("dl.details").get_by_text("1", exact=True).first.wait_for()  # stats: one visible
        page.get_by_role("button", name="Peek (stay visible)").click()
        page.locator("#received").get_by_text('{"job": 7}').wait_for()
        page.get_by_role("button", name="Receive messages").click()  # peeked: still there
        page.locator("#received").get_by_text('{"job": 7}').wait_for()
        page.locator("#received").get_by_role("button", name="Delete").click()
        page.get_by_text("Message deleted").wait_for()
        assert acc.api.get(f"/queues/{name}/stats").json()["total"] == 0
    finally:
        acc.api.delete(f"/queues/{name}")


def test_function_deploy_invoke_and_logs(account: Callable[[], Account], tmp_path: Path) -> None:
    acc = account()
    name = uname("hello")
    code = tmp_path / "hello.zip"
    code.write_bytes(zip_files({"main.py": "def handler(event, context):\n    print('called')\n"
                                           "    return {'hello': event['name']}\n"}))
    python = next(r["name"] for r in acc.api.get("/functions/runtimes").json() if r["language"] == "python")
    try:
        page = acc.log_in("Functions")
        page.get_by_label("Function name").fill(name)
        page.get_by_label("Runtime").select_option(python)
        page.get_by_label("Code (zip)").set_input_files(str(code))
        page.get_by_role("button", name="Deploy").click()
        page.get_by_role("heading", name=name).wait_for()
        page.get_by_label("Payload (JSON)").fill('{"name": "console"}')
        page.get_by_role("button", name="Invoke").click()
        result = page.locator("#invoke-result")
        result.locator("[data-status=SUCCESS]").wait_for(timeout=120_000)
        assert '"hello": "console"' in result.locator("pre.result").inner_text()
        page.get_by_role("table").get_by_text("called").wait_for()  # the invocation's log
        page.get_by_label("Payload (JSON)").fill("{not json")  # checked before it is sent
        page.get_by_role("button", name="Invoke").click()
        page.get_by_text("not valid JSON").wait_for()
    finally:
        acc.api.delete(f"/functions/{name}")


def test_image_build_streams_its_log_then_lists_and_deletes(account: Callable[[], Account]) -> None:
    acc = account()
    name = uname("built")
    try:
        page = acc.log_in("Images")
        page.get_by_label("Image name").fill("Cumulo-Bad")
        page.get_by_role("button", name="Build image").click()
        error = page.locator(".field", has=page.get_by_label("Image name")).locator(".field-error")
        error.get_by_text("lowercase letters").wait_for()  # the API's message, at its field
        page.get_by_label("Image name").fill(name)
        page.get_by_label("Dockerfile").fill(f"FROM cumulo/busybox\nRUN echo {name}-$((6*7))\n")  # never cached
        page.get_by_role("button", name="Build image").click()
        page.locator("#build-log").get_by_text(f"{name}-42").wait_for(timeout=120_000)  # the RUN's output
        page.locator("#build-result").get_by_text(f"Built {name}:latest.").wait_for(timeout=120_000)
        page.locator("tbody tr", has_text=f"{name}:latest").locator("[data-status=READY]").wait_for()
        page.get_by_role("link", name=f"Build log of {name}:latest").click()
        assert f"{name}-42" in page.locator("#build-log").inner_text()
        page.get_by_role("link", name="← All images").click()
        page.get_by_role("button", name=f"Delete {name}:latest").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        page.get_by_text(f"{name}:latest deleted").wait_for()
        assert name not in [i["name"] for i in acc.api.get("/images").json()]
    finally:
        for img in acc.api.get("/images").json():
            if img["name"] == name:
                acc.api.delete(f"/images/{img['id']}")
