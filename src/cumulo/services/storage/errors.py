"""Storage errors: each carries its S3 error code (rendered as S3 XML on the S3 port) and the
generic Cumulo code and status (rendered as JSON on the REST API)."""

from __future__ import annotations

from cumulo.core.errors import CumuloError

_GENERIC = {400: "INVALID_INPUT", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT", 411: "INVALID_INPUT",
            412: "PRECONDITION_FAILED", 413: "PAYLOAD_TOO_LARGE", 416: "INVALID_RANGE", 501: "NOT_IMPLEMENTED",
            405: "METHOD_NOT_ALLOWED", 304: "NOT_MODIFIED", 503: "UNAVAILABLE"}


class S3Error(CumuloError):
    def __init__(self, s3_code: str, message: str, status: int = 400, *, resource: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message, headers=headers)
        self.s3_code = s3_code
        self.status = status
        self.code = _GENERIC.get(status, "ERROR")
        self.resource = resource
        self.details = {"s3_code": s3_code}


def no_such_bucket(name: str) -> S3Error:
    return S3Error("NoSuchBucket", f"bucket '{name}' not found", 404, resource=name)


def no_such_key(key: str) -> S3Error:
    return S3Error("NoSuchKey", f"object '{key}' not found", 404, resource=key)


def access_denied(message: str = "Access Denied") -> S3Error:
    return S3Error("AccessDenied", message, 403)


def invalid_argument(message: str) -> S3Error:
    return S3Error("InvalidArgument", message, 400)


def malformed_xml(message: str = "The XML you provided was not well-formed or did not validate") -> S3Error:
    return S3Error("MalformedXML", message, 400)


def not_implemented(what: str) -> S3Error:
    return S3Error("NotImplemented", f"{what} is not implemented", 501)
