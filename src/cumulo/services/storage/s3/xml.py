"""S3 XML: rendering answers (plain string building, fast and escaped) and parsing small request
documents (size-capped, namespace-agnostic, no DTDs or entities)."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

from cumulo.core.clock import aware
from cumulo.services.storage.errors import S3Error, malformed_xml

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_DOC = 1024 * 1024
Node = tuple[str, Any]
# Control characters (keys may hold them) as character references; CR too, which parsers would
# otherwise turn into LF. Clients that cannot parse them ask for EncodingType=url.
_CONTROL = {c: f"&#{c};" for c in (*range(1, 9), 11, 12, *range(14, 32), 13, 127)}


def render(root: str, children: list[Node] | None = None, *, namespace: bool = True) -> bytes:
    attr = f' xmlns="{NS}"' if namespace else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}{attr}>' + _nodes(children or []) + f"</{root}>").encode()


def leaf(root: str, value: str) -> bytes:
    """A document whose root holds only text (e.g. ``LocationConstraint``)."""
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{NS}">{escape(value)}</{root}>'.encode()


def _nodes(children: list[Node]) -> str:
    out = []
    for name, value in children:
        if value is None:
            continue
        if isinstance(value, list):  # a name may carry attributes ("Grantee xsi:type=...")
            out.append(f"<{name}>{_nodes(value)}</{name.partition(' ')[0]}>")
        elif isinstance(value, bool):
            out.append(f"<{name}>{'true' if value else 'false'}</{name}>")
        elif isinstance(value, dt.datetime):
            out.append(f"<{name}>{timestamp(value)}</{name}>")
        else:
            out.append(f"<{name}>{escape(str(value)).translate(_CONTROL)}</{name}>")
    return "".join(out)


def timestamp(value: dt.datetime) -> str:
    value = aware(value)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def http_date(value: dt.datetime) -> str:
    value = aware(value)
    return value.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def error(code: str, message: str, *, resource: str | None = None, request_id: str = "") -> bytes:
    return render("Error", [("Code", code), ("Message", message), ("Resource", resource),
                            ("RequestId", request_id)], namespace=False)


def parse(body: bytes) -> ET.Element:
    if len(body) > MAX_DOC:
        raise S3Error("MalformedXML", "XML document too large", 400)
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise malformed_xml("DTDs and entities are not allowed")
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise malformed_xml() from None
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def text(el: ET.Element, path: str, default: str | None = None) -> str | None:
    found = el.find(path)
    return found.text if found is not None and found.text is not None else default
