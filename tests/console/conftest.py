"""Browser tests of the web console: Playwright from PyPI driving the OS Chromium
(``scripts/ensure-chromium.sh``), headless. The package has one live server (with its workers, so
instances converge) and one browser per xdist worker (a module that needs a server of its own, as the
admin page's does, overrides ``live``); each test has users of its own, each with a fresh browser
context (its own cookies), logged in through the console's session endpoint unless the test is about
the login form. The modules are in two xdist groups of about equal length (``GROUP_A``, ``GROUP_B``),
so ``--dist loadgroup`` runs them on both workers, one server and one browser each."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cumulo.testing.server import LiveServer, test_settings
from tests.conftest import PASSWORD, _create_pg_database, new_email

CHROMIUM = "/usr/bin/chromium"
GROUP_A = pytest.mark.xdist_group("console-a")  # instances (the desktop's and the VM's screens), storage, schedules
GROUP_B = pytest.mark.xdist_group("console-b")  # accounts, services, scaling, apps, traffic, admin, the API docs
STARTS_DESKTOP_BUILD = pytest.mark.usefixtures("desktop_image")  # on GROUP_A's docker modules: see desktop_image
DESKTOP_GROUP = [pytest.mark.docker, GROUP_A, STARTS_DESKTOP_BUILD]
METRICS_SECONDS = 2.0  # the sampler's period here (5 s by default): the charts get their next points sooner


def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """On a PostgreSQL database of its own: the production choice, and no SQLite write lock for the
    page's parallel requests to wait on while the rest of the suite loads the machine."""
    url, drop = _create_pg_database()
    server = LiveServer(test_settings(str(tmp_path_factory.mktemp("cumulo-console")), url,
                                      metrics_interval_seconds=METRICS_SECONDS)).start()
    yield server
    server.stop()
    drop()


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from console_server(tmp_path_factory)


@pytest.fixture(scope="package")
def desktop_image(live: LiveServer) -> None:
    """On a machine where ``cumulo/desktop`` is not built yet (an on-demand catalogue image: about 5
    minutes), start its build when GROUP_A begins: an instance launched from it answers PENDING and
    is deleted at once, the build goes on in the server's background (one per server, as for any
    first launch), and ``test_remote_desktop``, the group's last module, waits only for what is left."""
    with httpx.Client(base_url=live.url, timeout=60) as api:
        email = new_email()
        assert api.post("/auth/register", json={"email": email, "password": PASSWORD, "name": "Warm-up"}).status_code == 201
        api.headers["X-API-Key"] = api.post("/auth/login", json={"email": email, "password": PASSWORD}).json()["api_key"]
        listed = {i["name"]: i for i in api.get("/images").json()}
        if listed.get("cumulo/desktop", {}).get("status") != "NOT_BUILT":
            return
        r = api.post("/instances", json={"name": uname("warm-desktop"), "image": "cumulo/desktop",
                                         "password": uuid.uuid4().hex[:8], "memory_mb": 1024})
        assert r.status_code == 201 and r.json()["status"] == "PENDING", r.text
        assert api.delete(f"/instances/{r.json()['id']}").status_code == 204


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("chromium is not installed: run scripts/ensure-chromium.sh (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


class Account:
    """A user of the live server: their email, an API client (X-API-Key) for set-up and clean-up,
    and a browser page logged in through the console's own login form when asked."""

    def __init__(self, live: LiveServer, chromium: Any):
        self.live, self.email = live, new_email()
        self.api = httpx.Client(base_url=live.url, timeout=60)
        r = self.api.post("/auth/register", json={"email": self.email, "password": PASSWORD, "name": "Console User"})
        assert r.status_code == 201, r.text
        key = self.api.post("/auth/login", json={"email": self.email, "password": PASSWORD}).json()["api_key"]
        self.api.headers["X-API-Key"] = key
        self.context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        self.context.set_default_timeout(60_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.failed: list[str] = []  # for diagnosis only: an aborted request (a stream closed) is normal
        self.page.on("requestfailed", lambda req: self.failed.append(f"{req.method} {req.url}: {req.failure}"))
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" and
                     "Content Security Policy" in msg.text else None)

    def url(self, path: str) -> str:
        return f"{self.live.url}{path}"

    def log_in(self, opening: str | None = None) -> Any:
        """Log in as the console's login form does (``POST /auth/session``, whose cookies the browser
        context keeps; the form itself is tested in ``test_console_accounts``), open the console and,
        with ``opening``, follow the navigation to that page."""
        page = self.page
        r = self.context.request.post(self.url("/auth/session"), data={"email": self.email, "password": PASSWORD})
        assert r.status == 200, r.text()
        page.goto(self.url("/console"))
        page.get_by_role("heading", name="Welcome, Console User").wait_for()
        if opening:
            self.open(opening)
        return page

    def open(self, label: str) -> None:
        """Follow the navigation's link to a service page."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.page.get_by_role("navigation", name="Services").get_by_role("link", name=label, exact=True).click()
        try:
            self.page.get_by_role("heading", name=label, exact=True).wait_for()
        except PlaywrightTimeout:
            shown = self.page.locator("#app").inner_text()[:500]
            raise AssertionError(f"page {label!r} not drawn at {self.page.url}: {shown!r}; "
                                 f"failed requests {self.failed[-5:]}; errors {self.errors}") from None

    def close(self) -> None:
        self.context.close()
        self.api.close()
        assert not self.errors, f"errors in the page (a script failed or the CSP refused something): {self.errors}"


@pytest.fixture
def account(live: LiveServer, chromium: Any) -> Iterator[Callable[[], Account]]:
    made: list[Account] = []

    def make() -> Account:
        made.append(Account(live, chromium))
        return made[-1]

    yield make
    for acc in made:
        acc.close()


def uname(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
