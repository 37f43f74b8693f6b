"""Typed errors carrying an error code and an HTTP status.

The domain raises these; the HTTP layer renders every one of them the same way:
``{"error": {"code": ..., "message": ..., "details"?: ...}}`` with ``status``.
"""

from __future__ import annotations

from typing import Any


class CumuloError(Exception):
    code = "INTERNAL"
    status = 500
    default_message = "An unexpected error occurred"

    def __init__(self, message: str | None = None, *, details: Any = None, headers: dict[str, str] | None = None):
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            err["details"] = self.details
        return {"error": err}


class InvalidInput(CumuloError):
    code, status, default_message = "INVALID_INPUT", 400, "Invalid input"


class Unauthorized(CumuloError):
    code, status, default_message = "UNAUTHORIZED", 401, "Missing or invalid API key"


class Forbidden(CumuloError):
    code, status, default_message = "FORBIDDEN", 403, "Access denied"


class QuotaExceeded(CumuloError):
    code, status, default_message = "QUOTA_EXCEEDED", 403, "Quota exceeded"


class NotFound(CumuloError):
    code, status, default_message = "NOT_FOUND", 404, "Resource not found"


class Conflict(CumuloError):
    code, status, default_message = "CONFLICT", 409, "Resource conflict"


class PayloadTooLarge(CumuloError):
    code, status, default_message = "PAYLOAD_TOO_LARGE", 413, "Request body too large"


class RateLimited(CumuloError):
    code, status, default_message = "RATE_LIMITED", 429, "Rate limit exceeded"

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = retry_after


class Unavailable(CumuloError):
    code, status, default_message = "UNAVAILABLE", 503, "A backing service is unavailable"


def not_found(kind: str, ident: object) -> NotFound:
    """The one way to say a resource is missing (or belongs to someone else)."""
    return NotFound(f"{kind} '{ident}' not found")
