"""Get/Put/DeleteBucketLifecycleConfiguration: the ``LifecycleConfiguration`` document parsed and
validated as S3 does, stored as plain rule dicts (executed by ``storage.expiration``)."""

from __future__ import annotations

import datetime as dt
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from starlette.responses import Response

from cumulo.services.storage.errors import S3Error, access_denied, malformed_xml
from cumulo.services.storage.models import Bucket
from cumulo.services.storage.s3 import xml
from cumulo.services.storage.s3.objects import xml_response
from cumulo.services.storage.s3.request import S3Request

MAX_RULES = 1000


def _invalid(why: str) -> S3Error:
    return S3Error("InvalidArgument", why, 400)


def _days(el: ET.Element, tag: str, action: str) -> int | None:
    value = xml.text(el, tag)
    if value is None:
        return None
    try:
        days = int(value)
    except ValueError:
        raise malformed_xml(f"{tag} must be an integer") from None
    if days <= 0:
        raise _invalid(f"'{tag}' for {action} action must be a positive integer")
    return days


def _size(el: ET.Element, tag: str) -> int | None:
    value = xml.text(el, tag)
    if value is None:
        return None
    try:
        size = int(value)
    except ValueError:
        raise malformed_xml(f"{tag} must be an integer") from None
    if size < 0:
        raise _invalid(f"{tag} must be at least 0")
    return size


def _tags(parent: ET.Element) -> dict[str, str]:
    tags = {}
    for tag in parent.findall("Tag"):
        key = xml.text(tag, "Key")
        if not key:
            raise malformed_xml("each Tag needs a Key")
        if key in tags:
            raise _invalid("duplicate tag key in a lifecycle filter")
        tags[key] = xml.text(tag, "Value", "") or ""
    return tags


def _filter(rule: ET.Element, out: dict[str, Any]) -> None:
    flt = rule.find("Filter")
    if flt is not None and rule.find("Prefix") is not None:
        raise malformed_xml("a rule takes either Filter or Prefix, not both")
    out.update(prefix="", tags={}, gt=None, lt=None, legacy=flt is None)
    if flt is None:
        out["prefix"] = xml.text(rule, "Prefix", "") or ""
        return
    parts = [child.tag for child in flt]
    if len(parts) > 1:
        raise malformed_xml("a Filter holds one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan or And")
    source = flt.find("And") if parts == ["And"] else flt
    assert source is not None
    out["prefix"] = xml.text(source, "Prefix", "") or ""
    out["tags"] = _tags(source)
    out["gt"], out["lt"] = _size(source, "ObjectSizeGreaterThan"), _size(source, "ObjectSizeLessThan")
    if out["gt"] is not None and out["lt"] is not None and out["gt"] >= out["lt"]:
        raise _invalid("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")


def _midnight(value: str) -> str:
    try:
        date = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise _invalid("'Date' must be an ISO 8601 date") from None
    date = date if date.tzinfo else date.replace(tzinfo=dt.UTC)
    date = date.astimezone(dt.UTC)
    if (date.hour, date.minute, date.second, date.microsecond) != (0, 0, 0, 0):
        raise _invalid("'Date' must be at midnight GMT")
    return date.isoformat()


def parse(body: bytes) -> list[dict[str, Any]]:
    doc = xml.parse(body)
    if doc.tag != "LifecycleConfiguration":
        raise malformed_xml("expected a LifecycleConfiguration document")
    found = doc.findall("Rule")
    if not found or len(found) > MAX_RULES:
        raise malformed_xml(f"a lifecycle configuration holds 1 to {MAX_RULES} rules")
    rules, ids = [], set()
    for el in found:
        rule_id = xml.text(el, "ID") or uuid.uuid4().hex
        if len(rule_id) > 255:
            raise _invalid("ID length should not exceed allowed limit of 255")
        if rule_id in ids:
            raise _invalid("Rule ID must be unique. Found same ID for more than one rule")
        ids.add(rule_id)
        status = xml.text(el, "Status")
        if status not in ("Enabled", "Disabled"):
            raise malformed_xml("Status must be Enabled or Disabled")
        rule: dict[str, Any] = {"id": rule_id, "status": status, "days": None, "date": None, "marker": False,
                                "noncurrent_days": None, "newer_noncurrent": None, "abort_days": None}
        _filter(el, rule)
        expiration = el.find("Expiration")
        if expiration is not None:
            rule["days"] = _days(expiration, "Days", "Expiration")
            date = xml.text(expiration, "Date")
            rule["date"] = _midnight(date) if date is not None else None
            marker = xml.text(expiration, "ExpiredObjectDeleteMarker")
            rule["marker"] = (marker or "").strip().lower() == "true"
            if sum(x is not None for x in (rule["days"], rule["date"], marker)) != 1:
                raise malformed_xml("Expiration takes one of Days, Date or ExpiredObjectDeleteMarker")
            if rule["marker"] and (rule["tags"] or rule["gt"] is not None or rule["lt"] is not None):
                raise S3Error("InvalidRequest", "ExpiredObjectDeleteMarker cannot be specified with tags or sizes",
                              400)
        noncurrent = el.find("NoncurrentVersionExpiration")
        if noncurrent is not None:
            rule["noncurrent_days"] = _days(noncurrent, "NoncurrentDays", "NoncurrentVersionExpiration")
            if rule["noncurrent_days"] is None:
                raise malformed_xml("NoncurrentVersionExpiration needs NoncurrentDays")
            newer = xml.text(noncurrent, "NewerNoncurrentVersions")
            if newer is not None:
                rule["newer_noncurrent"] = _days(noncurrent, "NewerNoncurrentVersions", "NoncurrentVersionExpiration")
        abort = el.find("AbortIncompleteMultipartUpload")
        if abort is not None:
            rule["abort_days"] = _days(abort, "DaysAfterInitiation", "AbortIncompleteMultipartUpload")
            if rule["abort_days"] is None:
                raise malformed_xml("AbortIncompleteMultipartUpload needs DaysAfterInitiation")
            if rule["tags"] or rule["gt"] is not None or rule["lt"] is not None:
                raise S3Error("InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with tags or "
                              "sizes", 400)
        if expiration is None and noncurrent is None and abort is None:
            raise S3Error("InvalidRequest", "At least one action needs to be specified in a rule", 400)
        rules.append(rule)
    return rules


def render(rules: list[dict[str, Any]]) -> bytes:
    out = []
    for r in rules:
        node: list[tuple[str, Any]] = [("ID", r["id"])]
        if r["legacy"]:
            node.append(("Prefix", r["prefix"]))
        else:
            parts: list[tuple[str, Any]] = []
            if r["prefix"] or not (r["tags"] or r["gt"] is not None or r["lt"] is not None):
                parts.append(("Prefix", r["prefix"]))
            parts += [("Tag", [("Key", k), ("Value", v)]) for k, v in r["tags"].items()]
            parts += [("ObjectSizeGreaterThan", r["gt"]), ("ObjectSizeLessThan", r["lt"])]
            present = [p for p in parts if p[1] is not None]
            node.append(("Filter", [("And", present)] if len(present) > 1 else present))
        node.append(("Status", r["status"]))
        if r["days"] is not None or r["date"] is not None or r["marker"]:
            date = xml.timestamp(dt.datetime.fromisoformat(r["date"])) if r["date"] else None
            node.append(("Expiration", [("Days", r["days"]), ("Date", date),
                                        ("ExpiredObjectDeleteMarker", True if r["marker"] else None)]))
        if r["noncurrent_days"] is not None:
            node.append(("NoncurrentVersionExpiration", [("NoncurrentDays", r["noncurrent_days"]),
                                                         ("NewerNoncurrentVersions", r["newer_noncurrent"])]))
        if r["abort_days"] is not None:
            node.append(("AbortIncompleteMultipartUpload", [("DaysAfterInitiation", r["abort_days"])]))
        out.append(("Rule", node))
    return xml.render("LifecycleConfiguration", out)


async def lifecycle(req: S3Request, bucket: Bucket) -> Response:
    if req.user_id != bucket.user_id:
        raise access_denied()
    if req.method == "GET":
        if not bucket.lifecycle:
            raise S3Error("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", 404,
                          resource=bucket.name)
        return xml_response(render(bucket.lifecycle))
    rules = parse(await req.read_small()) if req.method == "PUT" else None
    async with req.platform.db.session() as session:
        row = await session.merge(bucket)
        row.lifecycle = rules
        await session.commit()
    return Response(b"", status_code=204 if req.method == "DELETE" else 200)
