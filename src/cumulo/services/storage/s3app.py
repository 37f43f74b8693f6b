"""The S3 endpoint: a raw ASGI app (not the API app: no body cap, bodies stream to disk) served on
``--s3-port``. It authenticates (SigV4 or anonymous), routes on method + bucket + key + sub-resource,
and renders every failure as S3 XML with the matching status."""

from __future__ import annotations

import fnmatch
import json
import logging
from collections.abc import Awaitable, Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from cumulo.api.errors import is_data_error
from cumulo.core.errors import CumuloError
from cumulo.drivers.blob.local import random_hex
from cumulo.platform import Platform
from cumulo.services.storage import buckets as bucket_service
from cumulo.services.storage import policies, requests
from cumulo.services.storage.errors import S3Error, not_implemented
from cumulo.services.storage.models import Bucket
from cumulo.services.storage.s3 import access, attributes, buckets, forms, locks, objects, rules, uploads, xml
from cumulo.services.storage.s3.request import S3Request

log = logging.getLogger("cumulo.s3")
Handler = Callable[..., Awaitable[Response]]
# Sub-resources this endpoint does not implement: refusing them keeps e.g. "PUT ?acl" from being
# taken for an object upload.
UNSUPPORTED = ("website", "notification", "replication", "encryption", "logging", "requestPayment", "accelerate",
               "analytics", "inventory", "metrics", "intelligent-tiering", "restore", "select", "torrent")


def create_s3_app(platform: Platform) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            return
        if scope["type"] != "http":
            return
        request_id = random_hex()[:16].upper()
        req = None
        try:
            req = S3Request(platform, scope, receive)
            response = await dispatch(req)
        except S3Error as exc:
            response = _error(exc.s3_code, exc.message, exc.status, exc.headers, exc.resource, request_id)
        except CumuloError as exc:
            code = {400: "InvalidArgument", 403: "AccessDenied", 404: "NoSuchKey", 409: "OperationAborted",
                    413: "EntityTooLarge", 503: "ServiceUnavailable"}.get(exc.status, "InternalError")
            if exc.code == "QUOTA_EXCEEDED":
                code = "QuotaExceeded"
            response = _error(code, exc.message, exc.status, exc.headers, None, request_id)
        except Exception as exc:
            if is_data_error(exc):  # the database refused a value (a NUL character): the client's input
                response = _error("InvalidArgument", "The request contains a value that cannot be stored (a NUL "
                                  "character, or a value too long or out of range).", 400, {}, None, request_id)
            else:
                log.exception("S3 request failed: %s %s", scope.get("method"), scope.get("path"))
                response = _error("InternalError", "We encountered an internal error. Please try again.", 500, {},
                                  None, request_id)
        response.headers["x-amz-request-id"] = request_id
        if req is not None and req.bucket_row is not None:
            _cors_headers(req, response)
            if requests.billed(response.status_code):  # counted in memory, written every few seconds
                requests.count(platform, req.bucket_row, req.method, req.key, req.params)
        if req is not None and not req.body_consumed and response.status_code >= 300 and _has_body(scope):
            # The body was refused unread (or the client waits on Expect: 100-continue and never sends
            # it): the connection cannot carry another request.
            response.headers["connection"] = "close"
        if scope["method"] == "HEAD" and response.status_code >= 300:
            response.body = b""
            response.headers["content-length"] = "0"
        await response(scope, receive, send)

    return app


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
            return True
    return False


def _error(code: str, message: str, status: int, headers: dict[str, str], resource: str | None,
           request_id: str) -> Response:
    if status == 304:
        return Response(b"", status_code=304, headers=headers)
    return Response(xml.error(code, message, resource=resource, request_id=request_id), status_code=status,
                    headers=headers, media_type="application/xml")


async def _bucket(req: S3Request) -> Bucket:
    bucket = await bucket_service.lookup(req.platform, req.bucket or "")
    req.bucket_row = bucket
    return bucket


async def dispatch(req: S3Request) -> Response:
    req.bucket_row = None
    if req.method == "OPTIONS":
        return await _preflight(req)
    await req.authenticate()
    policies.CURRENT.set(req)  # what policy conditions read (aws:SourceIp, s3:prefix ...)
    p, method = req.params, req.method
    if any(s in p for s in UNSUPPORTED):
        raise not_implemented(f"the {next(s for s in UNSUPPORTED if s in p)} sub-resource")
    if req.bucket is None:
        if method == "GET":
            return await buckets.list_all(req)
        raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
    if req.key is None:
        if method == "PUT" and not p:
            return await buckets.create(req, req.bucket)
        bucket = await _bucket(req)
        try:
            return await _bucket_op(req, bucket)
        finally:
            if method in ("PUT", "DELETE"):  # settings changed (or bucket gone): drop the cached row
                bucket_service.forget(req.platform, req.bucket)
    bucket = await _bucket(req)
    return await _object_op(req, bucket, req.key)


_BUCKET_SUB: dict[str, Handler] = {"versioning": buckets.versioning, "policy": buckets.policy,
                                   "cors": buckets.cors, "tagging": buckets.tagging,
                                   "publicAccessBlock": access.public_block, "ownershipControls": access.ownership,
                                   "lifecycle": rules.lifecycle, "object-lock": locks.configuration}


async def _bucket_op(req: S3Request, bucket: Bucket) -> Response:
    p, method = req.params, req.method
    for name, handler in _BUCKET_SUB.items():
        if name in p and method in ("GET", "PUT", "DELETE"):
            return await handler(req, bucket)
    if method == "GET":
        if "location" in p:
            return await buckets.location(req, bucket)
        if "versions" in p:
            return await buckets.list_versions(req, bucket)
        if "uploads" in p:
            return await uploads.list_uploads(req, bucket)
        if "acl" in p:
            return await access.bucket_acl(req, bucket)
        if "policyStatus" in p:
            return await access.policy_status(req, bucket)
        return await buckets.list_objects(req, bucket)
    if method == "HEAD":
        return await buckets.head(req, bucket)
    if method == "DELETE" and not p:
        return await buckets.delete(req, bucket)
    if method == "POST" and "delete" in p:
        return await objects.delete_many(req, bucket)
    if method == "POST" and not p and req.headers.get("content-type", "").startswith("multipart/form-data"):
        return await forms.post_object(req, bucket)
    if method == "PUT" and "acl" in p:
        return await access.bucket_acl(req, bucket)
    raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)


async def _object_op(req: S3Request, bucket: Bucket, key: str) -> Response:
    p, method = req.params, req.method
    if "tagging" in p and method in ("GET", "PUT", "DELETE"):
        return await objects.tagging(req, bucket, key)
    if "acl" in p and method in ("GET", "PUT"):
        return await access.object_acl(req, bucket, key)
    if "retention" in p and method in ("GET", "PUT"):
        return await locks.retention(req, bucket, key)
    if "legal-hold" in p and method in ("GET", "PUT"):
        return await locks.legal_hold(req, bucket, key)
    if method == "PUT":
        if "uploadId" in p or "partNumber" in p:
            return await uploads.upload_part(req, bucket, key)
        return await objects.put(req, bucket, key)
    if "attributes" in p and method == "GET":
        return await attributes.get_attributes(req, bucket, key)
    if method in ("GET", "HEAD"):
        if "uploadId" in p and method == "GET":
            return await uploads.list_parts(req, bucket, key)
        return await objects.get(req, bucket, key, head=method == "HEAD")
    if method == "DELETE":
        if "uploadId" in p:
            return await uploads.abort(req, bucket, key)
        return await objects.delete(req, bucket, key)
    if method == "POST":
        if "uploads" in p:
            return await uploads.create(req, bucket, key)
        if "uploadId" in p:
            return await uploads.complete(req, bucket, key)
    raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)


def _matching_rule(bucket: Bucket, origin: str, method: str) -> dict[str, list[str]] | None:
    if not bucket.cors or not origin:
        return None
    for rule in json.loads(bucket.cors):
        if any(fnmatch.fnmatchcase(origin, o) for o in rule.get("AllowedOrigin", [])) and \
                method in rule.get("AllowedMethod", []):
            return rule  # type: ignore[no-any-return]
    return None


def _cors_headers(req: S3Request, response: Response) -> None:
    rule = _matching_rule(req.bucket_row, req.headers.get("origin", ""), req.method)
    if rule is not None:
        response.headers["Access-Control-Allow-Origin"] = "*" if "*" in rule["AllowedOrigin"] else req.headers["origin"]
        if rule.get("ExposeHeader"):
            response.headers["Access-Control-Expose-Headers"] = ", ".join(rule["ExposeHeader"])


async def _preflight(req: S3Request) -> Response:
    if req.bucket is None:
        raise S3Error("BadRequest", "CORS preflight needs a bucket", 400)
    bucket = await _bucket(req)
    origin = req.headers.get("origin", "")
    wanted = req.headers.get("access-control-request-method", "")
    rule = _matching_rule(bucket, origin, wanted)
    req.bucket_row = None  # the preflight answer carries its own headers
    if rule is None:
        raise S3Error("AccessForbidden", "CORSResponse: This CORS request is not allowed.", 403)
    headers = {"Access-Control-Allow-Origin": "*" if "*" in rule["AllowedOrigin"] else origin,
               "Access-Control-Allow-Methods": ", ".join(rule["AllowedMethod"])}
    if req.headers.get("access-control-request-headers"):
        headers["Access-Control-Allow-Headers"] = req.headers["access-control-request-headers"]
    if rule.get("MaxAgeSeconds"):
        headers["Access-Control-Max-Age"] = rule["MaxAgeSeconds"][0]
    return Response(b"", headers=headers)
