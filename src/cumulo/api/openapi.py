"""The OpenAPI document as the API really behaves.

- the API-key scheme (``X-API-Key``, or ``Authorization: Bearer``) is declared and required on the
  operations that need a key, so Swagger UI's "Authorize" works;
- errors are the real envelope ``{"error": {"code", "message", "details"?, "request_id"?}}``: 400 for
  bad input (FastAPI's 422 ``HTTPValidationError`` never happens here), 401, 404, 429;
- a route that streams its body raw (``STREAMED``: object uploads) shows that body;
- a ``{key:path}`` parameter says it may contain ``/``.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from cumulo.api.deps import get_principal
from cumulo.api.middleware import streamed_path

SECURITY: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Bearer": []}]
SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "Your API key (`cml_...`): `cumulo login` saves one, `POST /auth/login` returns one."},
    "Bearer": {"type": "http", "scheme": "bearer", "description": "The same API key as a bearer token."},
}
ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "examples": ["INVALID_INPUT", "NOT_FOUND"]},
            "message": {"type": "string", "description": "What is wrong, for a person to read"},
            "details": {"description": "For bad input: a list of {field, message}",
                        "type": "array", "items": {"type": "object", "properties": {
                            "field": {"type": "string"}, "message": {"type": "string"}}}},
            "request_id": {"type": "string", "description": "Also in the X-Request-ID header"},
        }}},
}
REASONS = {"400": "Bad input: the message says what is wrong (the body as a JSON object, every limit)",
           "401": "Missing or invalid API key", "404": "Not found (another user's resource is not found either)",
           "429": "Rate limited (see Retry-After)"}


def _needs_key(route: APIRoute) -> bool:
    pending = [route.dependant]
    while pending:
        dep = pending.pop()
        if dep.call is get_principal:
            return True
        pending.extend(dep.dependencies)
    return False


def _reads_raw_body(route: APIRoute, streamed: tuple[tuple[str, str], ...]) -> bool:
    """A route listed in its service's ``STREAMED`` (the body streams to disk as sent)."""
    if route.body_field is not None or not any(streamed_path(route.path, p) and m in (route.methods or ())
                                               for m, p in streamed):
        return False
    return any(p.annotation in (Request, "Request") for p in inspect.signature(route.endpoint).parameters.values())


def _error(reason: str) -> dict[str, Any]:
    return {"description": reason, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _operation(doc: dict[str, Any], route: APIRoute, method: str) -> dict[str, Any] | None:
    path = route.path_format
    operation = doc.get("paths", {}).get(path, {}).get(method.lower())
    return operation if isinstance(operation, dict) else None


def build(app: FastAPI, streamed: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR
    components["securitySchemes"] = SCHEMES
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            op = _operation(doc, route, method)
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            has_input = bool(op.get("parameters") or op.get("requestBody")) or _reads_raw_body(route, streamed)
            wanted = ["400"] if has_input else []
            if _needs_key(route):
                op["security"] = SECURITY
                wanted += ["401", "429"]
            if "{" in route.path:
                wanted.append("404")
            for code in wanted:
                responses.setdefault(code, _error(REASONS[code]))
            if _reads_raw_body(route, streamed) and "requestBody" not in op:
                op["requestBody"] = {"required": True, "description": "The raw body (stored as sent)",
                                     "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
            for param in op.get("parameters", []):
                if param.get("in") == "path" and "{" + param["name"] + ":path}" in route.path:
                    param["description"] = (f"May contain `/` (e.g. `photos/2024/cat.jpg`): everything after the "
                                            f"previous segment is the {param['name']}.")
    return doc


def install(app: FastAPI, streamed: tuple[tuple[str, str], ...] = ()) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app, streamed)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to replace the schema
