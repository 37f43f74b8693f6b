"""AWS Signature Version 2 (HMAC-SHA1): still what boto3's ``generate_presigned_url`` and many older
tools produce by default, so presigned ``?AWSAccessKeyId=&Signature=&Expires=`` URLs and
``Authorization: AWS key:sig`` headers are accepted too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

from cumulo.services.storage.errors import S3Error, access_denied

MAX_EXPIRES = 7 * 24 * 3600  # the longest presigned lifetime, as SigV4 allows
CLOCK_SKEW = 15 * 60  # the signer's clock may run ahead of ours this much

# Query parameters that are part of the signed resource (the S3 "sub-resources").
SUBRESOURCES = frozenset({
    "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
    "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires", "tagging", "torrent", "uploadId",
    "uploads", "versionId", "versioning", "versions", "website"})


@dataclass
class ClaimV2:
    access_key: str
    signature: str
    expires: str | None  # query form only


def parse(headers: dict[str, str], params: dict[str, str]) -> ClaimV2 | None:
    auth = headers.get("authorization", "")
    if auth.startswith("AWS "):
        key, _, signature = auth[4:].strip().rpartition(":")
        if not key or not signature:
            raise S3Error("InvalidArgument", "Authorization header must be 'AWS <key>:<signature>'", 400)
        return ClaimV2(key, signature, None)
    if "AWSAccessKeyId" in params and "Signature" in params:
        return ClaimV2(params["AWSAccessKeyId"], params["Signature"], params.get("Expires", ""))
    return None


def check_time(claim: ClaimV2, headers: dict[str, str]) -> None:
    if claim.expires is not None:
        try:
            expires = int(claim.expires)
        except ValueError:
            raise access_denied("Expires must be a Unix time") from None
        now = time.time()
        if expires < now:
            raise access_denied("Request has expired")
        if expires > now + MAX_EXPIRES + CLOCK_SKEW:
            raise access_denied(f"Expires is more than {MAX_EXPIRES // 86400} days in the future: a presigned URL "
                                "lives at most 7 days (as with SigV4's X-Amz-Expires)")


def verify(claim: ClaimV2, secret: str, method: str, raw_path: str, query: list[tuple[str, str]],
           headers: dict[str, str], bucket_from_host: str | None) -> None:
    amz = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-amz-") and k != "x-amz-date"
                 or k == "x-amz-date")
    amz_lines = "".join(f"{k}:{v}\n" for k, v in amz)
    date = claim.expires if claim.expires is not None else ("" if "x-amz-date" in headers else headers.get("date", ""))
    sub = sorted((k, v) for k, v in query if k in SUBRESOURCES)
    resource = (f"/{bucket_from_host}" if bucket_from_host else "") + raw_path
    if sub:
        resource += "?" + "&".join(f"{k}={v}" if v != "" else k for k, v in sub)
    text = f"{method}\n{headers.get('content-md5', '')}\n{headers.get('content-type', '')}\n{date}\n{amz_lines}{resource}"
    expected = base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected, claim.signature):
        raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature "
                      "you provided. Check your key and signing method.", 403)
