"""Object Lock, as S3 documents it: buckets created with Object Lock (versioning on for good), a
default retention for new versions, per-version retention (``GOVERNANCE``: changed, shortened or
removed only with ``x-amz-bypass-governance-retention: true`` and ``s3:BypassGovernanceRetention``;
``COMPLIANCE``: only extended) and legal holds. A locked version (retention in the future, or a
legal hold on) cannot be deleted, by a request or by a lifecycle rule; a delete without a version
id only adds a delete marker."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cumulo.core.clock import aware, utcnow
from cumulo.services.storage.errors import S3Error, access_denied

MODES = ("GOVERNANCE", "COMPLIANCE")
MAX_DAYS = 36500  # 100 years, as S3 caps it
MAX_YEARS = 100


@dataclass
class Lock:
    """What a new version asks for (``mode``/``until`` both or neither; None: the bucket default)."""

    mode: str | None = None
    until: dt.datetime | None = None
    hold: bool = False


def to_meta(lock: Lock) -> dict[str, Any]:
    """A lock kept with a multipart upload until its completion (``from_meta``)."""
    return {"mode": lock.mode, "until": lock.until.isoformat() if lock.until else None, "hold": lock.hold}


def from_meta(meta: dict[str, Any] | None) -> Lock | None:
    if not meta:
        return None
    until = meta.get("until")
    return Lock(meta.get("mode"), dt.datetime.fromisoformat(until) if until else None, bool(meta.get("hold")))


def missing_configuration() -> S3Error:
    return S3Error("InvalidRequest", "Bucket is missing Object Lock Configuration", 400)


def enabled(bucket: Any) -> bool:
    return getattr(bucket, "object_lock", None) is not None


def check_rule(mode: str | None, days: int | None, years: int | None) -> dict[str, Any]:
    """A ``DefaultRetention``: a mode and exactly one of Days or Years, positive."""
    if mode not in MODES:
        raise S3Error("MalformedXML", "DefaultRetention Mode must be GOVERNANCE or COMPLIANCE", 400)
    if (days is None) == (years is None):
        raise S3Error("MalformedXML", "DefaultRetention needs exactly one of Days or Years", 400)
    amount, limit = (days, MAX_DAYS) if days is not None else (years, MAX_YEARS)
    assert amount is not None
    if not 0 < amount <= limit:
        raise S3Error("InvalidArgument", "Default retention period must be a positive integer value "
                      f"(at most {limit})", 400)
    return {"mode": mode, "days": days, "years": years}


def parse_date(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise S3Error("InvalidArgument", "The retain until date must be an ISO 8601 date and time", 400) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def requested(mode: str | None, until: str | None, hold: str | None) -> Lock | None:
    """The lock asked for by PutObject's ``x-amz-object-lock-*`` headers (None if none)."""
    if mode is None and until is None and hold is None:
        return None
    if (mode is None) != (until is None):
        raise S3Error("InvalidArgument", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must "
                      "both be supplied", 400)
    if mode is not None and mode not in MODES:
        raise S3Error("InvalidArgument", "Unknown wormMode directive.", 400)
    if hold is not None and hold not in ("ON", "OFF"):
        raise S3Error("InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'", 400)
    date = parse_date(until) if until is not None else None
    if date is not None and date <= utcnow():
        raise S3Error("InvalidArgument", "The retain until date must be in the future!", 400)
    return Lock(mode, date, hold == "ON")


def for_new_version(bucket: Any, lock: Lock | None, now: dt.datetime) -> Lock:
    """The lock a new version gets: what it asked for, else the bucket's default retention."""
    lock = lock or Lock()
    rule = (bucket.object_lock or {}).get("rule") if enabled(bucket) else None
    if lock.mode is None and rule:
        days = rule["days"] if rule.get("days") is not None else 365 * rule["years"]
        lock = Lock(rule["mode"], now + dt.timedelta(days=days), lock.hold)
    return lock


def retained(row: Any, now: dt.datetime | None = None) -> bool:
    until = aware(row.lock_until)
    return bool(row.lock_mode) and until is not None and until > (now or utcnow())


def locked(row: Any, now: dt.datetime | None = None) -> bool:
    return bool(row.legal_hold) or retained(row, now)


def check_delete(row: Any, bypass: bool) -> None:
    """Refuse removing a locked version (GOVERNANCE gives way to a bypass)."""
    if row.legal_hold:
        raise access_denied("Access Denied because object protected by object lock (legal hold)")
    if retained(row) and not (row.lock_mode == "GOVERNANCE" and bypass):
        raise access_denied("Access Denied because object protected by object lock")


def check_retention_change(row: Any, mode: str | None, until: dt.datetime | None, bypass: bool) -> None:
    """PutObjectRetention: COMPLIANCE only extended; GOVERNANCE changed otherwise only with a bypass."""
    if not retained(row):
        return
    current = aware(row.lock_until)
    assert current is not None
    stricter = mode is not None and until is not None and until >= current
    if row.lock_mode == "COMPLIANCE":
        if not (stricter and mode == "COMPLIANCE"):
            raise access_denied("Access Denied: a COMPLIANCE retention can only be extended")
    elif not stricter and not bypass:  # COMPLIANCE for at least as long is stricter too
        raise access_denied("Access Denied: shortening, removing or changing a GOVERNANCE retention needs "
                            "x-amz-bypass-governance-retention and s3:BypassGovernanceRetention")
