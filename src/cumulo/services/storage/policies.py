"""Bucket policies: validation and evaluation, with IAM condition operators.

A statement applies to a caller its ``Principal`` names (``"*"``, ``{"AWS": ...}`` or
``{"CanonicalUser": ...}`` with Cumulo user ids, ``arn:aws:iam::<user id>:root`` too), for the
actions (``Action``/``NotAction``) and resources (``Resource``/``NotResource``) it lists, when all
its ``Condition`` operators hold. Condition values come from the request being served (``CURRENT``,
set by the S3 endpoint for each request): ``aws:SourceIp``, ``aws:SecureTransport``,
``aws:CurrentTime``, ``aws:EpochTime``, ``aws:UserAgent``, ``aws:Referer``, ``aws:userid``,
``s3:prefix``, ``s3:delimiter``, ``s3:max-keys``, ``s3:x-amz-acl``, ``s3:signatureversion``,
``s3:authType``, ``s3:RequestObjectTag/<key>``, ``s3:RequestObjectTagKeys``,
``s3:ExistingObjectTag/<key>``."""

from __future__ import annotations

import contextvars
import datetime as dt
import fnmatch
import ipaddress
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from cumulo.core.clock import utcnow
from cumulo.services.storage.errors import S3Error

CURRENT: contextvars.ContextVar[Any] = contextvars.ContextVar("storage.s3_request", default=None)
OBJECT_TAGS: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("storage.object_tags",
                                                                                     default=None)
MAX_POLICY = 20 * 1024
_STRING = {"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
           "StringNotLike"}
_NUMERIC = {"NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan",
            "NumericGreaterThanEquals"}
_DATE = {n.replace("Numeric", "Date") for n in _NUMERIC}
OPERATORS = _STRING | _NUMERIC | _DATE | {"Bool", "IpAddress", "NotIpAddress", "Null", "BinaryEquals"}
NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals", "DateNotEquals",
           "NotIpAddress"}
Statement = tuple[str, tuple[str, ...], bool, tuple[str, ...], bool, tuple[str, ...], tuple[Any, ...]]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principals(principal: Any) -> tuple[str, ...]:
    if principal == "*":
        return ("*",)
    out = []
    if isinstance(principal, dict):
        for kind in ("AWS", "CanonicalUser"):
            for value in as_list(principal.get(kind)):
                if isinstance(value, str):
                    if value.startswith("arn:aws:iam::"):
                        value = value[len("arn:aws:iam::"):].split(":", 1)[0]
                    out.append(value)
    return tuple(out)


def _operator(name: str) -> tuple[str, bool, str | None]:
    """``ForAnyValue:StringLikeIfExists`` -> ("StringLike", if_exists, "ForAnyValue")."""
    qualifier = None
    if ":" in name:
        qualifier, _, name = name.partition(":")
    if_exists = name.endswith("IfExists") and name != "IfExists"
    return (name[:-len("IfExists")] if if_exists else name), if_exists, qualifier


@lru_cache(maxsize=256)
def statements(policy: str) -> tuple[Statement, ...]:
    """(effect, principals, not_action, actions, not_resource, resources, conditions) per statement."""
    doc = json.loads(policy)
    out = []
    for st in as_list(doc.get("Statement")):
        conditions = tuple((*_operator(op), tuple((k, tuple(str(v).lower() if isinstance(v, bool) else str(v)
                                                             for v in as_list(vals))) for k, vals in keys.items()))
                           for op, keys in (st.get("Condition") or {}).items())
        out.append((st.get("Effect", ""), _principals(st.get("Principal")), "NotAction" in st,
                    tuple(as_list(st.get("NotAction", st.get("Action")))), "NotResource" in st,
                    tuple(as_list(st.get("NotResource", st.get("Resource")))), conditions))
    return tuple(out)


def verdict(policy: str, bucket: str, user_id: str | None, action: str, key: str | None) -> str | None:
    """"Deny", "Allow" or None (no statement applies)."""
    resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
    found = None
    for effect, principals, not_action, actions, not_resource, resources, conditions in statements(policy):
        if "*" not in principals and (user_id is None or user_id not in principals):
            continue
        if any(fnmatch.fnmatchcase(action, a) for a in actions) == not_action:
            continue
        if any(fnmatch.fnmatchcase(resource, r) for r in resources) == not_resource:
            continue
        if conditions and not all(_holds(c, user_id) for c in conditions):
            continue
        if effect == "Deny":
            return "Deny"
        found = "Allow"
    return found


def is_public(policy: str | None) -> bool:
    """Public: allows something to everyone (``"*"``) without a condition."""
    return bool(policy) and any(effect == "Allow" and "*" in principals and not conditions
                                for effect, principals, _, _, _, _, conditions in statements(policy or "{}"))


# --- conditions ------------------------------------------------------------------------------------

def _context(name: str, user_id: str | None) -> list[str] | None:
    """The request's values for a condition key (None: absent)."""
    req = CURRENT.get()
    lowered = name.lower()
    if lowered == "aws:currenttime":
        return [utcnow().isoformat()]
    if lowered == "aws:epochtime":
        return [str(int(utcnow().timestamp()))]
    if lowered == "aws:userid" or lowered == "aws:username":
        return [user_id] if user_id else None
    if lowered.startswith("s3:existingobjecttag/"):
        tags = OBJECT_TAGS.get()
        value = (tags or {}).get(name.split("/", 1)[1])
        return [value] if value is not None else None
    if req is None:
        return None
    h, p = req.headers, req.params
    simple: dict[str, Callable[[], str | None]] = {
        "aws:sourceip": lambda: _client(req), "aws:securetransport": lambda: _secure(req),
        "aws:useragent": lambda: h.get("user-agent"), "aws:referer": lambda: h.get("referer"),
        "s3:prefix": lambda: p.get("prefix"), "s3:delimiter": lambda: p.get("delimiter"),
        "s3:max-keys": lambda: p.get("max-keys"), "s3:x-amz-acl": lambda: h.get("x-amz-acl"),
        "s3:signatureversion": lambda: ("AWS4-HMAC-SHA256" if req.claim else "AWS") if req.user_id else None,
        "s3:authtype": lambda: _auth_type(req)}
    if lowered in simple:
        value = simple[lowered]()
        return [value] if value is not None else None
    request_tags = dict(parse_qsl(h["x-amz-tagging"], keep_blank_values=True)) if "x-amz-tagging" in h else None
    if lowered == "s3:requestobjecttagkeys":
        return list(request_tags) if request_tags is not None else None
    if lowered.startswith("s3:requestobjecttag/"):
        value = (request_tags or {}).get(name.split("/", 1)[1])
        return [value] if value is not None else None
    return None


def _client(req: Any) -> str | None:
    client = req.scope.get("client")
    return client[0] if client else None


def _secure(req: Any) -> str:
    return "true" if req.scope.get("scheme") == "https" else "false"


def _auth_type(req: Any) -> str | None:
    if req.user_id is None:
        return None
    return "REST-QUERY-STRING" if "X-Amz-Signature" in req.params or "Signature" in req.params else "REST-HEADER"


def _holds(condition: tuple[Any, ...], user_id: str | None) -> bool:
    operator, if_exists, qualifier, keys = condition
    for name, wanted in keys:
        values = _context(name, user_id)
        if operator == "Null":
            if (values is None) != (wanted[0].lower() == "true" if wanted else True):
                return False
            continue
        if values is None:
            if if_exists or (operator in NEGATED and qualifier is None):
                continue
            if qualifier == "ForAllValues":
                continue
            return False
        tests = [_match(operator, v, wanted) for v in values]
        if qualifier == "ForAllValues":
            ok = all(tests)
        else:
            ok = any(tests)
        if not ok:
            return False
    return True


def _match(operator: str, value: str, wanted: tuple[str, ...]) -> bool:
    base = operator.replace("Not", "", 1) if operator in NEGATED else operator
    hit = any(_one(base, value, w) for w in wanted)
    return not hit if operator in NEGATED else hit


def _one(op: str, value: str, wanted: str) -> bool:
    try:
        if op == "StringEquals" or op == "BinaryEquals":
            return value == wanted
        if op == "StringEqualsIgnoreCase":
            return value.lower() == wanted.lower()
        if op == "StringLike":
            return fnmatch.fnmatchcase(value, wanted)
        if op == "Bool":
            return value.lower() == wanted.lower()
        if op == "IpAddress":
            return ipaddress.ip_address(value) in ipaddress.ip_network(wanted, strict=False)
        if op.startswith("Numeric"):
            return _compare(op[len("Numeric"):], float(value), float(wanted))
        if op.startswith("Date"):
            return _compare(op[len("Date"):], _date(value), _date(wanted))
    except ValueError:
        return False
    return False


def _compare(how: str, a: Any, b: Any) -> bool:
    return bool({"Equals": a == b, "LessThan": a < b, "LessThanEquals": a <= b, "GreaterThan": a > b,
                 "GreaterThanEquals": a >= b}[how])


def _date(value: str) -> dt.datetime:
    if value.isdigit():
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# --- validation ------------------------------------------------------------------------------------

def check(bucket_name: str, text: str) -> str:
    """Validate a bucket policy document (JSON, Statement with Effect/Principal/Action/Resource and
    optional Condition)."""
    def bad(why: str) -> S3Error:
        return S3Error("MalformedPolicy", f"invalid bucket policy: {why}", 400)

    if len(text.encode()) > MAX_POLICY:
        raise bad(f"larger than {MAX_POLICY} bytes")
    try:
        doc = json.loads(text)
    except ValueError:
        raise bad("not valid JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Statement"), (list, dict)):
        raise bad("a JSON object with a Statement is required")
    for st in as_list(doc["Statement"]):
        if not isinstance(st, dict) or st.get("Effect") not in ("Allow", "Deny"):
            raise bad("each statement needs Effect Allow or Deny")
        actions, resources = st.get("Action", st.get("NotAction")), st.get("Resource", st.get("NotResource"))
        if "Principal" not in st or not actions or not resources:
            raise bad("each statement needs Principal, Action (or NotAction) and Resource (or NotResource)")
        for action in as_list(actions):
            if not isinstance(action, str) or not (action == "*" or action.startswith("s3:")):
                raise bad(f"unsupported action {action!r}")
        for res in as_list(resources):
            if not isinstance(res, str) or not (res == f"arn:aws:s3:::{bucket_name}"
                                                or res.startswith(f"arn:aws:s3:::{bucket_name}/")):
                raise bad(f"resource {res!r} is not this bucket")
        condition = st.get("Condition", {})
        if not isinstance(condition, dict):
            raise bad("Condition must be an object")
        for op, keys in condition.items():
            name, _, qualifier = _operator(op)
            if name not in OPERATORS or qualifier not in (None, "ForAnyValue", "ForAllValues"):
                raise bad(f"Invalid Condition type : {op}")
            if not isinstance(keys, dict) or not all(isinstance(v, (str, int, float, bool, list))
                                                     for v in keys.values()):
                raise bad(f"the {op} condition must map keys to values")
    return text
