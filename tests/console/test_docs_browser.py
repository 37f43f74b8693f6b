"""``/docs`` and ``/redoc`` render in a real browser with no network but the API's own address: every
request to another origin is refused (and recorded), as on an air-gapped machine. Swagger UI shows the
API and its operations and "Authorize" offers the API key; ReDoc shows the operations too (its one
outside address, a logo, is refused by the content security policy before any request)."""

from __future__ import annotations

from typing import Any

from cumulo.testing.server import LiveServer
from tests.console.conftest import GROUP_A

pytestmark = GROUP_A  # with the group's browser (the package's ``chromium``)


def _offline_page(chromium: Any, live: LiveServer) -> tuple[Any, Any, list[str], list[str]]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(60_000)
    outside: list[str] = []

    def only_the_api(route: Any) -> None:
        if route.request.url.startswith(live.url + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_the_api)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return context, page, outside, errors


def test_swagger_ui_renders_offline(chromium: Any, server_sqlite: LiveServer) -> None:
    context, page, outside, errors = _offline_page(chromium, server_sqlite)
    try:
        page.goto(server_sqlite.url + "/docs")
        page.locator(".swagger-ui .info .title").filter(has_text="Cumulo").wait_for()
        page.locator(".opblock-summary-path[data-path='/auth/login']").first.wait_for()
        assert page.locator(".opblock").count() > 100
        page.get_by_role("button", name="Authorize").first.click()
        dialog = page.locator(".modal-ux")
        dialog.get_by_text("X-API-Key").first.wait_for()
        assert outside == [] and errors == [], (outside, errors)
    finally:
        context.close()


def test_redoc_renders_offline(chromium: Any, server_sqlite: LiveServer) -> None:
    context, page, outside, errors = _offline_page(chromium, server_sqlite)
    try:
        page.goto(server_sqlite.url + "/redoc")
        page.locator("h1").filter(has_text="Cumulo").first.wait_for()
        page.get_by_text("/auth/login").first.wait_for(state="attached")
        # ReDoc's sidebar credit always asks for its logo on cdn.redoc.ly: the content security policy
        # refuses it before any request (outside stays empty) and ReDoc hides the image
        refused = [e for e in errors if "cdn.redoc.ly" in e and "Content Security Policy" in e]
        assert outside == [] and [e for e in errors if e not in refused] == [], (outside, errors)
    finally:
        context.close()
