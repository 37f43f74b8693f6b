"""Browser uploads: ``POST /<bucket>`` with an HTML form (multipart/form-data) carrying a signed
policy (``generate_presigned_post``). The policy's signature (V4 or V2) is checked, then every
condition (bucket, key prefix, exact fields, content-length-range) and the expiry, before the file
becomes an object. The form is parsed by python-multipart, which spills files to disk above 1 MiB."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from cumulo.core.clock import utcnow
from cumulo.services.storage import acls, buckets, credentials, objects
from cumulo.services.storage.errors import S3Error, access_denied, invalid_argument, malformed_xml
from cumulo.services.storage.models import Bucket
from cumulo.services.storage.s3 import locks, sigv4, xml
from cumulo.services.storage.s3.objects import MAX_META, check_tags
from cumulo.services.storage.s3.request import S3Request

MAX_FIELDS = 100
SKIP = {"policy", "x-amz-signature", "signature", "file", "awsaccesskeyid", "bucket"}


async def post_object(req: S3Request, bucket: Bucket) -> Response:
    request = Request(req.scope, req._receive)
    req._consumed = req._finished = True
    try:
        form = await request.form(max_files=1, max_fields=MAX_FIELDS)
    except Exception:  # noqa: BLE001 - any parse failure is the client's malformed form
        raise S3Error("MalformedPOSTRequest", "The body of your POST request is not well-formed "
                      "multipart/form-data.", 400) from None
    try:
        fields = {k.lower(): v for k, v in form.items() if isinstance(v, str)}
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise invalid_argument("POST requires exactly one file field, placed last")
        key = fields.get("key", "").replace("${filename}", upload.filename or "")
        if not key:
            raise invalid_argument("Bucket POST must contain a field named 'key'")
        fields["key"], fields["bucket"] = key, bucket.name
        size = upload.size if upload.size is not None else 0
        user_id = None
        if _signed(fields):  # else anonymous: what the bucket's ACL or policy lets anyone write
            user_id = await _check_signature(req, fields)
            _check_policy(_decode_policy(fields.get("policy", "")), fields, size)
        buckets.authorize(bucket, user_id, "s3:PutObject", key)
        meta = _meta(bucket, fields)
        lock = locks.from_fields(fields, bucket, user_id, key)
        row = await objects.put_object(req.platform, bucket, key, _chunks(upload), objects.Checks(size=size),
                                       content_type=fields.get("content-type") or upload.content_type, meta=meta,
                                       lock=lock)
    finally:
        await form.close()
    headers = {"ETag": f'"{row.etag}"', "Location": f"/{bucket.name}/{key}"}
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect and urlsplit(redirect).scheme in ("http", "https"):
        query = urlencode({"bucket": bucket.name, "key": key, "etag": f'"{row.etag}"'})
        headers["Location"] = redirect + ("&" if urlsplit(redirect).query else "?") + query
        return Response(b"", status_code=303, headers=headers)
    status = fields.get("success_action_status", "204")
    if status == "201":
        return Response(xml.render("PostResponse", [("Location", f"/{bucket.name}/{key}"), ("Bucket", bucket.name),
                                                    ("Key", key), ("ETag", f'"{row.etag}"')], namespace=False),
                        status_code=201, headers=headers, media_type="application/xml")
    return Response(b"", status_code=200 if status == "200" else 204, headers=headers)


def _signed(fields: dict[str, str]) -> bool:
    return any(name in fields for name in ("policy", "x-amz-signature", "signature", "x-amz-credential",
                                           "awsaccesskeyid"))


def _meta(bucket: Bucket, fields: dict[str, str]) -> dict[str, Any]:
    """Metadata, system headers, ACL and tags from the form's fields."""
    meta: dict[str, Any] = {
        "user": {k[len("x-amz-meta-"):]: v for k, v in fields.items() if k.startswith("x-amz-meta-")},
        "headers": {k: fields[k] for k in ("cache-control", "content-disposition", "content-encoding",
                                           "content-language", "expires") if k in fields}}
    if sum(len(k) + len(v) for k, v in meta["user"].items()) > MAX_META:
        raise S3Error("MetadataTooLarge", f"user metadata is limited to {MAX_META} bytes", 400)
    if fields.get("acl"):
        acl = acls.canned(fields["acl"].strip(), bucket.user_id)
        acls.check_writable(bucket, acl)
        if not acls.is_owner_only(acl, bucket.user_id):
            meta["acl"] = acl
    if fields.get("tagging"):
        doc = xml.parse(fields["tagging"].encode())
        tags = {}
        for tag in doc.iter("Tag"):
            name = xml.text(tag, "Key")
            if name is None:
                raise malformed_xml("each Tag needs a Key")
            tags[name] = xml.text(tag, "Value", "") or ""
        check_tags(tags)
        meta["tags"] = tags
    return meta


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    await upload.seek(0)
    while chunk := await upload.read(1024 * 1024):
        yield chunk


async def _check_signature(req: S3Request, fields: dict[str, str]) -> str:
    policy_b64 = fields.get("policy")
    if not policy_b64:
        raise access_denied("POST uploads need a signed policy")
    if fields.get("x-amz-algorithm"):
        if fields["x-amz-algorithm"] != sigv4.ALGORITHM:
            raise invalid_argument("x-amz-algorithm must be AWS4-HMAC-SHA256")
        parts = fields.get("x-amz-credential", "").split("/")
        if len(parts) != 5:
            raise invalid_argument("x-amz-credential must be <key>/<date>/<region>/s3/aws4_request")
        resolved = await credentials.resolve(req.platform, parts[0])
        if resolved is None:
            raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                          403)
        key = sigv4.signing_key(resolved.secret, parts[1], parts[2], parts[3])
        expected = hmac.new(key, policy_b64.encode(), hashlib.sha256).hexdigest()
        given = _required(fields, "x-amz-signature")
    else:
        resolved = await credentials.resolve(req.platform, _required(fields, "awsaccesskeyid"))
        if resolved is None:
            raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.",
                          403)
        expected = base64.b64encode(hmac.new(resolved.secret.encode(), policy_b64.encode(),
                                             hashlib.sha1).digest()).decode()
        given = _required(fields, "signature")
    if not hmac.compare_digest(expected, given):
        raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature "
                      "you provided.", 403)
    return resolved.user_id


def _required(fields: dict[str, str], name: str) -> str:
    if not fields.get(name):
        raise invalid_argument(f"Bucket POST must contain a field named '{name}'")
    return fields[name]


def _bad_policy(why: str) -> S3Error:
    return S3Error("InvalidPolicyDocument", f"Invalid Policy: {why}", 400)


def _decode_policy(policy_b64: str) -> dict[str, Any]:
    try:
        policy = json.loads(base64.b64decode(policy_b64, validate=True))
        expires = dt.datetime.fromisoformat(policy["expiration"])
        conditions = policy["conditions"]
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        raise _bad_policy("the policy must be base64 JSON with an ISO 8601 expiration and conditions") from None
    if not isinstance(conditions, list):
        raise _bad_policy("policy conditions must be a list")
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    if expires < utcnow():
        raise access_denied("Invalid according to Policy: Policy expired.")
    return policy  # type: ignore[no-any-return]


def _check_policy(policy: dict[str, Any], fields: dict[str, str], size: int) -> None:
    def fail(why: str) -> S3Error:
        return access_denied(f"Invalid according to Policy: {why}")

    covered = set()
    for cond in policy["conditions"]:
        if isinstance(cond, dict) and len(cond) == 1:
            for name, value in cond.items():  # field names are case-insensitive, operators are not
                covered.add(name.lower())
                if fields.get(name.lower()) != value:
                    raise fail(f"Policy Condition failed: ['eq', '${name}', '{value}']")
        elif isinstance(cond, list) and len(cond) == 3 and cond[0] == "content-length-range":
            try:
                low, high = int(cond[1]), int(cond[2])
            except (TypeError, ValueError):
                raise _bad_policy("content-length-range needs two integers") from None
            if not low <= size <= high:
                raise S3Error("EntityTooLarge" if size > high else "EntityTooSmall",
                              "Your proposed upload is outside the policy's content-length-range", 400)
        elif isinstance(cond, list) and len(cond) == 3 and cond[0] in ("eq", "starts-with") and \
                isinstance(cond[1], str) and cond[1].startswith("$") and isinstance(cond[2], str):
            name = cond[1][1:].lower()
            covered.add(name)
            value = fields.get(name, "")
            if (cond[0] == "eq" and value != cond[2]) or (cond[0] == "starts-with" and not value.startswith(cond[2])):
                raise fail(f"Policy Condition failed: {cond}")
        else:
            raise _bad_policy(f"invalid condition {json.dumps(cond)[:200]}")
    if "bucket" not in covered:
        raise fail("Policy Condition failed: the policy names no bucket")
    for name in fields:  # every field the client added must be allowed by the policy
        if name in covered or name in SKIP or name.startswith("x-amz-") and name in (
                "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature", "x-amz-security-token") \
                or name.startswith("x-ignore-"):
            continue
        raise fail(f"Extra input fields: {name}")
