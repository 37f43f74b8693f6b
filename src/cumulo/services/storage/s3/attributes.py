"""GetObjectAttributes (``GET /<bucket>/<key>?attributes``): ETag, ObjectSize, StorageClass and, for
multipart objects, ObjectParts (paged by ``x-amz-max-parts`` / ``x-amz-part-number-marker``);
``Checksum`` when the object was written with one (full-object, or composite for multipart)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from cumulo.services.storage import objects
from cumulo.services.storage.errors import S3Error, invalid_argument
from cumulo.services.storage.models import Bucket
from cumulo.services.storage.s3 import grants, xml
from cumulo.services.storage.s3.objects import checksum_element, checksum_nodes, xml_response
from cumulo.services.storage.s3.request import S3Request

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
MAX_PARTS = 1000


def _int_header(req: S3Request, name: str, default: int) -> int:
    value = req.headers.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise invalid_argument(f"{name} must be a non-negative integer")
    return int(value)


async def get_attributes(req: S3Request, bucket: Bucket, key: str) -> Response:
    version_id = req.params.get("versionId") or None
    await grants.authorize_read(req, bucket, "s3:GetObjectVersion" if version_id else "s3:GetObject", key,
                                version_id)
    wanted = {a.strip() for a in req.headers.get("x-amz-object-attributes", "").split(",") if a.strip()}
    if not wanted:
        raise S3Error("InvalidArgument", "The x-amz-object-attributes header specifying the attributes to be "
                      "retrieved is either missing or empty", 400)
    unknown = wanted - set(ATTRIBUTES)
    if unknown:
        raise invalid_argument(f"Invalid attribute name specified: {min(unknown)}")
    max_parts = min(_int_header(req, "x-amz-max-parts", MAX_PARTS), MAX_PARTS)
    marker = _int_header(req, "x-amz-part-number-marker", 0)
    async with req.platform.db.session() as session:
        row = await objects.get_version(session, bucket, key, version_id)
    children: list[tuple[str, Any]] = []
    if "ETag" in wanted:
        children.append(("ETag", row.etag))
    sizes = (row.meta or {}).get("parts")
    _, dash, count_text = row.etag.rpartition("-")
    if "ObjectParts" in wanted and dash and count_text.isdigit():
        parts: list[tuple[str, Any]] = [("PartsCount", int(count_text))]
        if isinstance(sizes, list) and len(sizes) == int(count_text):
            page = list(enumerate(sizes, start=1))[marker:marker + max_parts]
            truncated = marker + max_parts < len(sizes)
            parts += [("PartNumberMarker", marker), ("MaxParts", max_parts), ("IsTruncated", truncated)]
            if page:
                parts.append(("NextPartNumberMarker", page[-1][0]))
            sums = (row.meta or {}).get("part_checksums") or []
            algorithm = ((row.meta or {}).get("checksum") or [""])[0]
            parts += [("Part", [("PartNumber", n), ("Size", size),
                                *([(checksum_element(algorithm), sums[n - 1])] if len(sums) == len(sizes) else [])])
                      for n, size in page]
        children.append(("ObjectParts", parts))
    if "Checksum" in wanted and (row.meta or {}).get("checksum"):
        children.append(("Checksum", checksum_nodes(row.meta["checksum"])))
    if "StorageClass" in wanted:
        children.append(("StorageClass", "STANDARD"))
    if "ObjectSize" in wanted:
        children.append(("ObjectSize", row.size))
    headers = {"Last-Modified": xml.http_date(row.created_at)}
    if bucket.versioning:
        headers["x-amz-version-id"] = row.version_id
    return xml_response(xml.render("GetObjectAttributesResponse", children), headers=headers)
