"""The web console (issue 20): a page of plain ES modules served at ``/console`` that talks only to
the public API, with a cookie session (``session.py``) and live updates over server-sent events
(``live.py``). ``install(app)`` mounts it; one page module per service lives in ``static/pages/``."""

from __future__ import annotations

from fastapi import FastAPI

from cumulo.console import live, pages, session


def install(app: FastAPI) -> None:
    """Add the console's routes (before the route index is built) and the browser redirect of ``/``."""
    for module in (session, live, pages):
        app.router.routes.extend(module.router.routes)
    app.add_middleware(pages.BrowserRedirect)
