"""S3 Object Lock requests: Get/PutObjectLockConfiguration, Get/PutObjectRetention,
Get/PutObjectLegalHold, the ``x-amz-object-lock-*`` headers of PutObject/CopyObject and of
Head/GetObject answers (the rules are in ``storage.locking``)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from cumulo.core.clock import utcnow
from cumulo.services.storage import buckets, locking, objects
from cumulo.services.storage.errors import S3Error, malformed_xml
from cumulo.services.storage.models import Bucket
from cumulo.services.storage.s3 import xml
from cumulo.services.storage.s3.request import S3Request


def xml_response(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, headers=headers, media_type="application/xml")


NO_LOCK = "The specified object does not have a ObjectLock configuration"


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise malformed_xml("Days and Years are integers") from None


async def configuration(req: S3Request, bucket: Bucket) -> Response:
    if req.method == "GET":
        buckets.authorize(bucket, req.user_id, "s3:GetBucketObjectLockConfiguration")
        if not locking.enabled(bucket):
            raise S3Error("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for "
                          "this bucket", 404, resource=bucket.name)
        rule = bucket.object_lock.get("rule") if bucket.object_lock else None
        nodes: list[tuple[str, Any]] = [("ObjectLockEnabled", "Enabled")]
        if rule:
            nodes.append(("Rule", [("DefaultRetention", [("Mode", rule["mode"]), ("Days", rule.get("days")),
                                                         ("Years", rule.get("years"))])]))
        return xml_response(xml.render("ObjectLockConfiguration", nodes))
    if req.method != "PUT":
        raise S3Error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
    buckets.authorize(bucket, req.user_id, "s3:PutBucketObjectLockConfiguration")
    doc = xml.parse(await req.read_small())
    if doc.tag != "ObjectLockConfiguration" or xml.text(doc, "ObjectLockEnabled") != "Enabled":
        raise malformed_xml("ObjectLockConfiguration needs ObjectLockEnabled Enabled")
    rule = None
    found = doc.find("Rule")
    if found is not None:
        retention = found.find("DefaultRetention")
        if retention is None:
            raise malformed_xml("Rule needs a DefaultRetention")
        rule = locking.check_rule(xml.text(retention, "Mode"), _int(xml.text(retention, "Days")),
                                  _int(xml.text(retention, "Years")))
    async with req.platform.db.session() as session:
        await buckets.set_object_lock(session, await session.merge(bucket), rule)
    return Response(b"")


def bypass(req: S3Request, bucket: Bucket, key: str) -> bool:
    """``x-amz-bypass-governance-retention: true``, from someone allowed s3:BypassGovernanceRetention."""
    if req.headers.get("x-amz-bypass-governance-retention", "").lower() != "true":
        return False
    buckets.authorize(bucket, req.user_id, "s3:BypassGovernanceRetention", key)
    return True


def from_fields(fields: Any, bucket: Bucket, user_id: str | None, key: str) -> locking.Lock | None:
    """The lock a new object asks for by its ``x-amz-object-lock-*`` headers (or the same fields of
    a browser POST form): it needs an Object Lock bucket, and a caller other than the owner needs
    ``s3:PutObjectRetention`` for a retention and ``s3:PutObjectLegalHold`` for a legal hold."""
    lock = locking.requested(fields.get("x-amz-object-lock-mode"), fields.get("x-amz-object-lock-retain-until-date"),
                             fields.get("x-amz-object-lock-legal-hold"))
    if lock is None:
        return None
    if not locking.enabled(bucket):
        raise locking.missing_configuration()
    if lock.mode is not None:
        buckets.authorize(bucket, user_id, "s3:PutObjectRetention", key)
    if fields.get("x-amz-object-lock-legal-hold") is not None:
        buckets.authorize(bucket, user_id, "s3:PutObjectLegalHold", key)
    return lock


def from_headers(req: S3Request, bucket: Bucket, key: str, *, body: bool = True) -> locking.Lock | None:
    """The ``x-amz-object-lock-*`` headers of PutObject, CopyObject, CreateMultipartUpload
    (``from_fields``); PutObject (``body``) also needs a Content-MD5 or checksum."""
    h = req.headers
    lock = from_fields(h, bucket, req.user_id, key)
    if lock is None:
        return None
    if body and "x-amz-copy-source" not in h and "content-md5" not in h and \
            not any(k.startswith("x-amz-checksum-") or k == "x-amz-sdk-checksum-algorithm" for k in h):
        raise S3Error("InvalidRequest", "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object "
                      "requests with Object Lock parameters", 400)
    return lock


def headers_of(row: Any, bucket: Bucket, user_id: str | None) -> dict[str, str]:
    """The lock headers of Head/GetObject, as S3 gives them: the retention only to a caller allowed
    ``s3:GetObjectRetention``, the legal hold only to one allowed ``s3:GetObjectLegalHold`` (the
    owner, or whom the bucket policy lets; reading the object is not enough)."""
    out = {}
    if row.lock_mode and row.lock_until is not None and _may(bucket, user_id, "s3:GetObjectRetention", row.key):
        out["x-amz-object-lock-mode"] = row.lock_mode
        out["x-amz-object-lock-retain-until-date"] = xml.timestamp(row.lock_until)
    if row.legal_hold and _may(bucket, user_id, "s3:GetObjectLegalHold", row.key):
        out["x-amz-object-lock-legal-hold"] = "ON"
    return out


def _may(bucket: Bucket, user_id: str | None, action: str, key: str) -> bool:
    try:
        buckets.authorize(bucket, user_id, action, key)
    except S3Error:
        return False
    return True


async def retention(req: S3Request, bucket: Bucket, key: str) -> Response:
    return await _version_setting(req, bucket, key, "Retention")


async def legal_hold(req: S3Request, bucket: Bucket, key: str) -> Response:
    return await _version_setting(req, bucket, key, "LegalHold")


async def _version_setting(req: S3Request, bucket: Bucket, key: str, what: str) -> Response:
    version_id = req.params.get("versionId") or None
    action = ("s3:GetObject" if req.method == "GET" else "s3:PutObject") + what
    buckets.authorize(bucket, req.user_id, action, key)
    if not locking.enabled(bucket):
        raise locking.missing_configuration()
    change = _parse_change(await req.read_small(), what) if req.method == "PUT" else None
    skip = bypass(req, bucket, key) if req.method == "PUT" and what == "Retention" else False
    async with req.platform.db.session() as session:
        row = await objects.get_version(session, bucket, key, version_id)
        headers = {"x-amz-version-id": row.version_id}
        if req.method == "GET":
            if what == "LegalHold":
                if not row.legal_hold:
                    raise S3Error("NoSuchObjectLockConfiguration", NO_LOCK, 404, resource=key)
                return xml_response(xml.render("LegalHold", [("Status", "ON")]), headers=headers)
            if not row.lock_mode:
                raise S3Error("NoSuchObjectLockConfiguration", NO_LOCK, 404, resource=key)
            return xml_response(xml.render("Retention", [("Mode", row.lock_mode),
                                                         ("RetainUntilDate", row.lock_until)]), headers=headers)
        assert change is not None
        if what == "LegalHold":
            row.legal_hold = change["hold"]
        else:
            locking.check_retention_change(row, change["mode"], change["until"], skip)
            row.lock_mode, row.lock_until = change["mode"], change["until"]
        await session.commit()
    return Response(b"", headers=headers)


def _parse_change(body: bytes, what: str) -> dict[str, Any]:
    doc = xml.parse(body)
    if doc.tag != what:
        raise malformed_xml(f"the document must be a {what}")
    if what == "LegalHold":
        status = xml.text(doc, "Status")
        if status not in ("ON", "OFF"):
            raise malformed_xml("LegalHold Status must be ON or OFF")
        return {"hold": status == "ON"}
    mode, until = xml.text(doc, "Mode"), xml.text(doc, "RetainUntilDate")
    if mode is None and until is None:  # an empty Retention removes it
        return {"mode": None, "until": None}
    if mode not in locking.MODES or until is None:
        raise malformed_xml("Retention needs Mode GOVERNANCE or COMPLIANCE and RetainUntilDate")
    date = locking.parse_date(until)
    if date <= utcnow():
        raise S3Error("InvalidArgument", "The retain until date must be in the future!", 400)
    return {"mode": mode, "until": date}
