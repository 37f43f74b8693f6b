"""In Chromium: an app's page: deploy two archives of a static site (the build log streams in),
roll back to v1 after confirming, read a build's log, add a custom domain (the API's message at the
field first) and remove it."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.console.conftest import GROUP_B, Account, uname

pytestmark = [pytest.mark.docker, GROUP_B]


def site(path: Path, text: str) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.html", f"<p>{text}</p>\n")
    path.write_bytes(buf.getvalue())
    return path


def test_app_deploy_archive_releases_rollback_domains(account: Callable[[], Account], tmp_path: Path) -> None:
    acc = account()
    name = uname("shop")
    assert acc.api.post("/apps", json={"name": name}).status_code == 201
    try:
        page = acc.log_in("Apps")
        page.get_by_role("link", name=name, exact=True).click()
        page.get_by_role("heading", name=name).wait_for()
        for version, text in ((1, "first"), (2, "second")):
            page.get_by_label("Source archive (.zip, .tar.gz)").set_input_files(str(site(tmp_path / f"{text}.zip", text)))
            page.get_by_role("button", name="Deploy archive").click()
            page.locator(".toast", has_text=f"v{version} is live").wait_for(timeout=180_000)
        assert "static" in page.locator("#app-build-log").inner_text()  # the log streamed in
        page.get_by_role("button", name="Roll back to v1").click()
        page.get_by_role("dialog").get_by_role("button", name="Roll back").click()
        page.locator(".toast", has_text="Rolled back: v").wait_for()
        current = [r for r in acc.api.get(f"/apps/{name}/releases").json() if r["current"]]
        assert len(current) == 1 and current[0]["version"] == 3  # a rollback is a release of v1's build
        page.get_by_role("button", name="Show log of build #1").click()
        page.locator("#app-build-log").get_by_text("static").first.wait_for()
        page.get_by_label("Custom domain").fill("not a host")
        page.get_by_role("button", name="Add domain").click()
        shown = page.locator("#domains-title + form .form-error")  # the API names no field for this one
        shown.wait_for()
        assert shown.inner_text() == acc.api.post(f"/apps/{name}/domains", json={"hostname": "not a host"}
                                                  ).json()["error"]["message"]
        page.get_by_label("Custom domain").fill(f"{name}.example-shop.test")
        page.get_by_role("button", name="Add domain").click()
        page.get_by_role("button", name=f"Remove {name}.example-shop.test").click()
        page.get_by_role("dialog").get_by_role("button", name="Remove").click()
        page.get_by_text("No custom domains.").wait_for()
        assert acc.api.get(f"/apps/{name}/domains").json() == []
        page.get_by_text("Config vars (a new release when one is serving)").click()
        page.get_by_label("Config vars").fill("GREETING=hello\nMODE=shop")
        page.get_by_role("button", name="Save changes").click()
        page.get_by_text("Changes saved").wait_for()
        assert acc.api.get(f"/apps/{name}/config").json() == {"GREETING": "hello", "MODE": "shop"}
        page.get_by_text("Config vars (a new release when one is serving)").click()
        assert page.get_by_label("Config vars").input_value() == "GREETING=hello\nMODE=shop"  # read back
        page.get_by_label("Config vars").fill("MODE=test")  # GREETING unset, MODE changed
        page.get_by_role("button", name="Save changes").click()
        from cumulo.testing.polling import eventually

        eventually(lambda: acc.api.get(f"/apps/{name}/config").json() == {"MODE": "test"}, 60, 0.2, what="vars saved")
    finally:
        acc.api.delete(f"/apps/{name}")
