"""Storage REST routes under /storage (X-API-Key): buckets, S3 credentials, and objects by path
(``/storage/{bucket}/{key...}``; keys may contain slashes). Someone else's bucket is 404 here; the
S3 endpoint answers AccessDenied instead, as S3 does."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.core.errors import InvalidInput
from cumulo.services.storage import credentials, presign, service
from cumulo.services.storage.buckets import forget
from cumulo.services.storage.names import check_key
from cumulo.services.storage.s3.xml import http_date
from cumulo.services.storage.schemas import (
    BucketIn,
    BucketOut,
    CredentialCreatedOut,
    CredentialIn,
    CredentialOut,
    ObjectListOut,
    ObjectOut,
)

router = APIRouter(tags=["storage"])
# Object uploads stream to the blob store with their own size limit (5 GiB), so the API's
# CUMULO_MAX_BODY_BYTES cap on request bodies does not apply to them.
STREAMED = (("PUT", "/storage/"),)


@router.post("/storage/buckets", status_code=201, response_model=BucketOut)
async def create_bucket(body: BucketIn, user: UserDep, platform: PlatformDep, session: SessionDep) -> BucketOut:
    return service.bucket_out(await service.create_bucket(session, user.user_id, body.name, platform=platform))


@router.get("/storage/buckets", response_model=list[BucketOut])
async def list_buckets(user: UserDep, session: SessionDep) -> list[BucketOut]:
    return [service.bucket_out(b) for b in await service.list_buckets(session, user.user_id)]


@router.get("/storage/buckets/{name}", response_model=BucketOut)
async def get_bucket(name: str, user: UserDep, session: SessionDep) -> BucketOut:
    return service.bucket_out(await service.owned_bucket(session, user.user_id, name))


@router.delete("/storage/buckets/{name}", status_code=204)
async def delete_bucket(name: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete_bucket(session, await service.owned_bucket(session, user.user_id, name), platform)
    forget(platform, name)
    return Response(status_code=204)


@router.post("/storage/credentials", status_code=201, response_model=CredentialCreatedOut)
async def create_credential(user: UserDep, platform: PlatformDep, session: SessionDep,
                            body: CredentialIn | None = None) -> CredentialCreatedOut:
    row, secret = await credentials.create(platform, session, user.user_id, (body.name if body else ""))
    return CredentialCreatedOut(**service.credential_out(row).model_dump(), secret_access_key=secret,
                                endpoint_url=service.s3_endpoint(platform), region=platform.settings.s3_region)


@router.get("/storage/credentials", response_model=list[CredentialOut])
async def list_credentials(user: UserDep, session: SessionDep) -> list[CredentialOut]:
    return [service.credential_out(c) for c in await credentials.list_for(session, user.user_id)]


@router.delete("/storage/credentials/{ident}", status_code=204)
async def delete_credential(ident: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await credentials.delete(platform, session, user.user_id, ident)
    return Response(status_code=204)


@router.post("/storage/buckets/{bucket}/objects/{key:path}/presign", response_model=presign.PresignOut)
async def presign_object(bucket: str, key: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                         body: presign.PresignIn | None = None) -> presign.PresignOut:
    """A presigned GET URL of an object of the caller's on the S3 endpoint (see storage/presign.py)."""
    row = await service.owned_bucket(session, user.user_id, bucket)
    await service.get_version(session, row, key)  # a missing object is 404, not a URL that fails later
    return await presign.presign(platform, session, user.user_id, service.s3_endpoint(platform), bucket, key,
                                 body or presign.PresignIn())


@router.get("/storage/{bucket}", response_model=ObjectListOut)
async def list_objects(bucket: str, user: UserDep, session: SessionDep,
                       prefix: str = Query("", max_length=1024), delimiter: str = Query("", max_length=16),
                       after: str | None = Query(None, max_length=1024),
                       limit: int = Query(1000, ge=1, le=1000)) -> ObjectListOut:
    row = await service.owned_bucket(session, user.user_id, bucket)
    page = await service.list_objects(session, row, prefix=prefix, delimiter=delimiter, after=after, max_keys=limit)
    return ObjectListOut(bucket=bucket, prefix=prefix, objects=[service.object_out(row, o) for o in page.objects],
                         common_prefixes=page.prefixes, is_truncated=page.truncated,
                         next_after=page.last if page.truncated else None)


@router.put("/storage/{bucket}/{key:path}", response_model=ObjectOut)
async def put_object(bucket: str, key: str, request: Request, user: UserDep, platform: PlatformDep) -> ObjectOut:
    async with platform.db.session() as session:  # not held open while the body streams
        row = await service.owned_bucket(session, user.user_id, bucket)
    check_key(key)
    checks = service.Checks()
    if "content-md5" in request.headers:
        try:
            checks.md5 = base64.b64decode(request.headers["content-md5"], validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("Content-MD5 must be the base64 MD5 of the body") from None
    obj = await service.put_object(platform, row, key, request.stream(), checks,
                                   content_type=request.headers.get("content-type"), meta={"user": {}, "headers": {}})
    return service.object_out(row, obj)


async def _lookup(platform: PlatformDep, user_id: str, bucket: str, key: str):  # type: ignore[no-untyped-def]
    async with platform.db.session() as session:
        row = await service.owned_bucket(session, user_id, bucket)
        return row, await service.get_version(session, row, key)


def _headers(obj) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"ETag": f'"{obj.etag}"', "Last-Modified": http_date(obj.created_at), "Content-Length": str(obj.size),
            "Content-Type": obj.content_type}


@router.get("/storage/{bucket}/{key:path}", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
async def get_object(bucket: str, key: str, user: UserDep, platform: PlatformDep) -> Response:
    _row, obj = await _lookup(platform, user.user_id, bucket, key)
    if obj.size == 0:
        return Response(b"", headers=_headers(obj))
    stream = await service.blob_store(platform).read(obj.blob_id)
    return StreamingResponse(stream, headers=_headers(obj))


@router.head("/storage/{bucket}/{key:path}")
async def head_object(bucket: str, key: str, user: UserDep, platform: PlatformDep) -> Response:
    _row, obj = await _lookup(platform, user.user_id, bucket, key)
    return Response(b"", headers=_headers(obj))


@router.delete("/storage/{bucket}/{key:path}", status_code=204)
async def delete_object(bucket: str, key: str, user: UserDep, platform: PlatformDep) -> Response:
    row, _obj = await _lookup(platform, user.user_id, bucket, key)  # a missing object is 404 here
    await service.delete_object(platform, row, key)
    return Response(status_code=204)
