"""AWS Signature Version 4 for S3: header auth (``Authorization: AWS4-HMAC-SHA256 ...``) and presigned
query URLs (``X-Amz-Signature``). ``parse`` extracts what was claimed, ``verify`` recomputes it with
the caller's secret. The chunk signatures of aws-chunked uploads are in ``chunked.py``."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote

from cumulo.services.storage.errors import S3Error, access_denied

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_SKEW = dt.timedelta(minutes=15)
MAX_EXPIRES = 7 * 24 * 3600
_HEADER = re.compile(r"^AWS4-HMAC-SHA256\s+(.*)$", re.DOTALL)
_SPACES = re.compile(r"\s+")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass
class Claim:
    """What a request says about its signature."""

    access_key: str
    date: str  # yyyymmdd
    region: str
    service: str
    amz_date: str  # yyyymmddThhmmssZ
    signed_headers: list[str]
    signature: str
    payload: str  # x-amz-content-sha256 (or UNSIGNED-PAYLOAD for presigned)
    presigned: bool
    expires: int = 0

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _credential(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise S3Error("AuthorizationHeaderMalformed", "the Credential must be <key>/<date>/<region>/s3/aws4_request",
                      400)
    return parts[0], parts[1], parts[2], parts[3]


def parse(method: str, headers: dict[str, str], query: list[tuple[str, str]]) -> Claim | None:
    """The claim in the Authorization header or the query string; None for an anonymous request."""
    auth = headers.get("authorization")
    if auth:
        match = _HEADER.match(auth.strip())
        if not match:
            raise S3Error("AuthorizationHeaderMalformed", "unsupported Authorization header", 400)
        fields = {}
        for item in match.group(1).split(","):
            name, _, value = item.strip().partition("=")
            fields[name.strip()] = value.strip()
        if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
            raise S3Error("AuthorizationHeaderMalformed", "Credential, SignedHeaders and Signature are required", 400)
        key, date, region, service = _credential(fields["Credential"])
        amz_date = headers.get("x-amz-date") or ""
        payload = headers.get("x-amz-content-sha256")
        if not payload:
            raise S3Error("InvalidRequest", "missing required header x-amz-content-sha256", 400)
        return Claim(key, date, region, service, amz_date, fields["SignedHeaders"].split(";"),
                     fields["Signature"], payload, presigned=False)
    params = dict(query)
    if "X-Amz-Signature" in params or "X-Amz-Credential" in params:
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise S3Error("AuthorizationQueryParametersError", "X-Amz-Algorithm must be AWS4-HMAC-SHA256", 400)
        try:
            expires = int(params.get("X-Amz-Expires", ""))
        except ValueError:
            raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires must be a number", 400) from None
        if expires > MAX_EXPIRES:  # S3: 403 AccessDenied, like an expired URL
            raise access_denied("X-Amz-Expires must be less than a week (in seconds); that is, the given "
                                "X-Amz-Expires must be less than 604800 seconds")
        if expires < 1:
            raise access_denied("X-Amz-Expires must be a positive number of seconds")
        key, date, region, service = _credential(params.get("X-Amz-Credential", ""))
        return Claim(key, date, region, service, params.get("X-Amz-Date", ""),
                     params.get("X-Amz-SignedHeaders", "host").split(";"), params.get("X-Amz-Signature", ""),
                     UNSIGNED, presigned=True, expires=expires)
    return None


def check_time(claim: Claim, now: dt.datetime) -> None:
    try:
        when = dt.datetime.strptime(claim.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise access_denied("AWS authentication requires a valid X-Amz-Date") from None
    if claim.presigned:
        if now > when + dt.timedelta(seconds=claim.expires):
            raise access_denied("Request has expired")
        if when - now > MAX_SKEW:
            raise access_denied("Request is not valid yet")
    elif abs(now - when) > MAX_SKEW:
        raise S3Error("RequestTimeTooSkewed", "the difference between the request time and the server's time is "
                      "too large", 403)
    if claim.amz_date[:8] != claim.date:
        raise S3Error("SignatureDoesNotMatch", "the credential scope date does not match X-Amz-Date", 403)
    if claim.payload not in (UNSIGNED, STREAMING, STREAMING_TRAILER, STREAMING_UNSIGNED_TRAILER) \
            and not _HEX64.match(claim.payload):
        raise S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value "
                      "or a hex SHA-256", 400)


def uri_encode(value: str, safe: str = "-_.~") -> str:
    return quote(value, safe=safe)


def canonical_query(query: list[tuple[str, str]]) -> str:
    pairs = sorted((uri_encode(k), uri_encode(v)) for k, v in query if k != "X-Amz-Signature")
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_headers(claim: Claim, headers: dict[str, str]) -> str:
    lines = []
    for name in claim.signed_headers:
        value = headers.get(name)
        if value is None:
            raise S3Error("SignatureDoesNotMatch", f"signed header {name!r} is missing from the request", 403)
        lines.append(f"{name}:{_SPACES.sub(' ', value.strip())}\n")
    return "".join(lines)


@lru_cache(maxsize=1024)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def string_to_sign(claim: Claim, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return f"{ALGORITHM}\n{claim.amz_date}\n{claim.scope}\n{digest}"


def verify(claim: Claim, secret: str, method: str, raw_path: str, query: list[tuple[str, str]],
           headers: dict[str, str]) -> bytes:
    """Check the signature; returns the signing key (aws-chunked uploads need it for the chunks)."""
    key = signing_key(secret, claim.date, claim.region, claim.service)
    query_part = canonical_query(query)
    header_part = canonical_headers(claim, headers)
    signed = ";".join(claim.signed_headers)
    decoded = unquote(raw_path)
    # Clients encode each path segment once (S3 never double-encodes); try the normalized form and
    # the bytes as sent, so either spelling of the same path verifies.
    for path in dict.fromkeys((uri_encode(decoded, safe="/-_.~"), raw_path)):
        canonical = f"{method}\n{path}\n{query_part}\n{header_part}\n{signed}\n{claim.payload}"
        if hmac.compare_digest(sign(key, string_to_sign(claim, canonical)), claim.signature):
            return key
    raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you "
                  "provided. Check your key and signing method.", 403)
