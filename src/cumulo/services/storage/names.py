"""Bucket and key name rules (the S3 ones), checked before anything is written."""

from __future__ import annotations

import ipaddress
import re

from cumulo.services.storage.errors import S3Error

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_KEY_BYTES = 1024
RESERVED = ("buckets", "credentials")


def check_bucket(name: str) -> str:
    problem = None
    if not isinstance(name, str) or not _BUCKET.match(name):
        problem = "3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
    elif ".." in name or ".-" in name or "-." in name:
        problem = "no adjacent dots, and no dot next to a hyphen"
    elif name in RESERVED:
        problem = "reserved for the REST API (/storage/buckets, /storage/credentials)"
    elif name.startswith("xn--") or name.endswith(("-s3alias", "--ol-s3")):
        problem = "reserved prefix or suffix"
    else:
        try:
            ipaddress.IPv4Address(name)
            problem = "must not look like an IP address"
        except ValueError:
            pass
    if problem:
        raise S3Error("InvalidBucketName", f"invalid bucket name {name[:80]!r}: {problem}", 400, resource=name[:80])
    return name


def check_key(key: str) -> str:
    if not key:
        raise S3Error("InvalidArgument", "object key must not be empty", 400)
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", f"object key is longer than {MAX_KEY_BYTES} bytes", 400)
    if "\x00" in key:  # other control characters are valid, as on S3 (listings carry them url-encoded)
        raise S3Error("InvalidArgument", "object key must not contain a NUL character", 400)
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise S3Error("InvalidArgument", "object key must be valid UTF-8", 400) from None
    return key


def successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:
                nxt = 0xE000
            return prefix[:-1] + chr(nxt)
        prefix = prefix[:-1]
    return None
