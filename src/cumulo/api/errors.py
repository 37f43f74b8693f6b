"""The one error handler: every failure becomes ``{"error": {"code", "message"}}`` with its status."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cumulo.core.errors import CumuloError

log = logging.getLogger("cumulo.api")

_HTTP_CODES = {400: "INVALID_INPUT", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
               422: "INVALID_INPUT", 429: "RATE_LIMITED"}


def _render(request: Request, status: int, code: str, message: str, details: Any = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    err: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        err["details"] = details
    rid = getattr(request.state, "request_id", None)
    if rid:
        err["request_id"] = rid
    return JSONResponse({"error": err}, status_code=status, headers=headers)


def _not_a_number(value: Any) -> bool:
    """NaN or an infinity, given as a JSON number (Python's json reads ``NaN``) or as a string."""
    if isinstance(value, str):
        value = value.strip().lower().lstrip("+-")
        return value in ("nan", "inf", "infinity")
    return isinstance(value, float) and not math.isfinite(value)


def _message(e: dict[str, Any]) -> str:
    if _not_a_number(e.get("input")) and e.get("type") not in ("missing", "extra_forbidden"):
        return "is not a number (NaN and infinity are not accepted)"
    return str(e.get("msg", "invalid"))


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Where and what, never the offending input (it may be a password)."""
    out = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc) or "body", "message": _message(e)})
    return out


def _json_error(request: Request, exc: RequestValidationError) -> str | None:
    """``Invalid JSON at line 1 column 9: Expecting value``, when the body did not parse."""
    bad = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
    if bad is None:
        return None
    doc = exc.body if isinstance(exc.body, str) else ""
    loc = bad.get("loc", ())
    pos = loc[-1] if loc and isinstance(loc[-1], int) else 0
    line, column = doc.count("\n", 0, pos) + 1, pos - (doc.rfind("\n", 0, pos) + 1) + 1
    what = (bad.get("ctx") or {}).get("error", "not valid JSON")
    message = f"Invalid JSON at line {line} column {column}: {what}"
    sent = request.scope.get("state", {}).get("sent_content_type")
    if sent is not None:
        label = sent.split(";", 1)[0].strip() or "no Content-Type"
        message = (f"the request body must be JSON (send it with Content-Type: application/json); "
                   f"it came as {label} and is not JSON. {message}")
    return message


def _causes(exc: BaseException, depth: int = 6) -> Iterator[BaseException]:
    """``exc`` and what it wraps (SQLAlchemy's ``orig``, else ``__cause__``), at most ``depth`` deep."""
    seen: BaseException | None = exc
    while seen is not None and depth > 0:
        yield seen
        seen = getattr(seen, "orig", None) or seen.__cause__
        depth -= 1


def is_data_error(exc: BaseException) -> bool:
    """The database refused a value (NUL byte, too long, out of range): the client's input, not our bug."""
    return any(type(seen).__name__ in ("DataError", "CharacterNotInRepertoireError", "StringDataRightTruncationError",
                                       "NumericValueOutOfRangeError", "InvalidTextRepresentationError",
                                       "UntranslatableCharacterError", "InvalidDatetimeFormatError")
               for seen in _causes(exc))


# serialization failure, deadlock detected, lock not available; no connection slot free, server starting
_BUSY_SQLSTATES = ("40001", "40P01", "55P03", "53300", "57P03")
_BUSY_TEXT = ("database is locked", "database is busy", "database table is locked")


def is_busy(exc: BaseException) -> bool:
    """The database could not take a lock in time (SQLite busy past its timeout, a PostgreSQL deadlock or
    serialization failure) or a connection (PostgreSQL out of connection slots, or starting): a moment
    of contention the client may retry, not a bug in the request."""
    return any(getattr(seen, "sqlstate", None) in _BUSY_SQLSTATES or getattr(seen, "pgcode", None) in _BUSY_SQLSTATES
               or (type(seen).__name__ == "OperationalError" and any(t in str(seen).lower() for t in _BUSY_TEXT))
               for seen in _causes(exc))


def _busy(request: Request) -> JSONResponse:
    log.warning("database busy on %s %s: answered 503, to be retried", request.method, request.url.path)
    return _render(request, 503, "UNAVAILABLE", "the database is busy; retry in a moment", headers={"Retry-After": "1"})


def install(app: FastAPI) -> None:
    @app.exception_handler(CumuloError)
    async def _cumulo(request: Request, exc: CumuloError) -> JSONResponse:
        return _render(request, exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        invalid_json = _json_error(request, exc)
        if invalid_json is not None:
            return _render(request, 400, "INVALID_INPUT", invalid_json, [{"field": "body", "message": invalid_json}])
        fields = _field_errors(exc)
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return _render(request, 400, "INVALID_INPUT", f"invalid request: {summary}", fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route for {request.method} {request.url.path}"
        return _render(request, exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if is_data_error(exc):
            return _render(request, 400, "INVALID_INPUT", "input contains a value the database cannot store "
                                                          "(a NUL character, or a value too long or out of range)")
        if is_busy(exc):
            return _busy(request)
        log.exception("database error on %s %s", request.method, request.url.path)
        return _render(request, 500, "INTERNAL", "An unexpected error occurred")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_data_error(exc):  # raised by asyncpg itself on a raw-driver path (no DBAPIError around it)
            return _render(request, 400, "INVALID_INPUT", "input contains a value the database cannot store "
                                                          "(a NUL character, or a value too long or out of range)")
        if is_busy(exc):  # asyncpg's own DeadlockDetectedError on a raw-driver path
            return _busy(request)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _render(request, 500, "INTERNAL", "An unexpected error occurred")
