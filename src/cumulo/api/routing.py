"""Route lookup by the path's first segment.

Starlette tries every route in order until one matches: with ~200 routes, a request to a route near
the end ran ~200 regular expressions first (12% of a queue request's time). ``RouteIndex`` keeps,
for each literal first segment (``auth``, ``queues``, ...), the routes that can match such a path,
in their original order: those starting with that segment and those starting with a parameter.
The first full match in that list is the first full match in the whole list, so behaviour is
unchanged. Anything else (no full match: 404, 405, redirects; lifespan) goes to the router itself.

A route whose body is a pydantic model reads it as JSON whatever the content type (``read_as_json``);
routes that read their body raw (uploads, function payloads) are left as they are.
"""

from __future__ import annotations

from typing import Any

from fastapi import params
from fastapi import routing as fastapi_routing
from starlette.routing import BaseRoute, Match, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

JSON = b"application/json"


def _takes_json(route: BaseRoute) -> bool:
    """A route whose body is a pydantic model (not a form, not read raw by the handler)."""
    field = getattr(route, "body_field", None)
    return field is not None and not isinstance(field.field_info, params.Form)


def _is_json_type(value: bytes) -> bool:
    kind = value.split(b";", 1)[0].strip().lower()
    return kind == JSON or (kind.startswith(b"application/") and kind.endswith(b"+json"))


def read_as_json(scope: Scope) -> None:
    """Parse the body as JSON whatever its content type: ``curl -d '{...}'`` sends JSON labelled
    ``application/x-www-form-urlencoded``. The label the client sent is kept in the request state, so
    a body that is not JSON gets a message saying to send JSON (``api/errors.py``)."""
    headers = scope.get("headers", [])
    sent = next((v for k, v in headers if k == b"content-type"), None)
    if sent is not None and _is_json_type(sent):
        return
    scope.setdefault("state", {})["sent_content_type"] = (sent or b"").decode("latin-1")
    scope["headers"] = [(k, v) for k, v in headers if k != b"content-type"] + [(b"content-type", JSON)]


def _first_segment(path: str) -> str | None:
    """The literal first segment of a route path, or None when it starts with a parameter."""
    segment = path.lstrip("/").split("/", 1)[0]
    return None if "{" in segment else segment


class RouteIndex:
    def __init__(self, router: Any):
        self.router = router
        self.fallback = router.app
        self.form_limits = getattr(router, "form_limits", None)
        routes: list[BaseRoute] = list(router.routes)
        literal = {_first_segment(r.path) for r in routes if isinstance(r, Route | WebSocketRoute)}
        literal.discard(None)
        self.buckets: dict[str, list[BaseRoute]] = {segment: [] for segment in literal if segment is not None}
        self.json_bodies = {id(r) for r in routes if _takes_json(r)}
        self.anywhere: list[BaseRoute] = []
        for route in routes:
            segment = _first_segment(route.path) if isinstance(route, Route | WebSocketRoute) else None
            if segment is not None:
                self.buckets[segment].append(route)
                continue
            self.anywhere.append(route)
            for bucket in self.buckets.values():
                bucket.append(route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            segment = scope["path"].lstrip("/").split("/", 1)[0]
            for route in self.buckets.get(segment, self.anywhere):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self.router)
                    if self.form_limits:
                        fastapi_routing._apply_router_form_limits(scope, self.form_limits)
                    fastapi_routing._update_scope(scope, child_scope)
                    if id(route) in self.json_bodies:
                        read_as_json(scope)
                    await route.handle(scope, receive, send)
                    return
        await self.fallback(scope, receive, send)


def index_routes(app: Any) -> None:
    """Answer ``app``'s requests through a ``RouteIndex`` of its routes as they are now."""
    app.router.middleware_stack = RouteIndex(app.router)
