"""In Chromium: the administrators' Users page. A module of its own, with a server of its own (not the
package's shared one), so the first account signed up on it is the administrator (as the API makes
the first user)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from cumulo.testing.server import LiveServer
from tests.console.conftest import GROUP_B, Account, console_server

pytestmark = [pytest.mark.docker, GROUP_B]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from console_server(tmp_path_factory)


def test_users_page_for_administrators_only(account: Callable[[], Account]) -> None:
    admin, user = account(), account()  # the first is the server's first user: its administrator
    assert admin.api.get("/auth/me").json()["role"] == "admin"
    page = user.log_in()
    nav = page.get_by_role("navigation", name="Services")
    nav.get_by_role("link", name="API keys").wait_for()
    assert nav.get_by_role("link", name="Users", exact=True).count() == 0  # not linked for a user
    page.goto(user.url("/console/admin/users"))  # and typed in: the API's refusal, no list
    page.get_by_role("alert").wait_for()
    assert admin.email not in page.locator("#main").inner_text()

    page = admin.log_in("Users")
    row = page.get_by_role("row").filter(has_text=user.email)
    assert row.locator("[data-status]").inner_text() == "user"
    assert page.get_by_role("row").filter(has_text=admin.email).get_by_role("button").count() == 0
    page.get_by_role("button", name=f"Make admin {user.email}").click()
    page.get_by_role("dialog").get_by_role("button", name="Make admin").click()
    row.locator("[data-status=admin]").wait_for()
    assert user.api.get("/auth/me").json()["role"] == "admin"
    page.get_by_role("button", name=f"Make user {user.email}").click()
    page.get_by_role("dialog").get_by_role("button", name="Make user").click()
    row.locator("[data-status=user]").wait_for()
    assert user.api.get("/auth/me").json()["role"] == "user"
