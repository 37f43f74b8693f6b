"""Managed cache routes (``/caches``); ``{cache}`` is an id or a name."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.caches import service
from cumulo.services.caches.schemas import CacheCreate, CacheCreated, CacheOut, CacheStats
from cumulo.services.databases.schemas import RotatedOut

router = APIRouter(tags=["caches"])


@router.post("/caches", status_code=201, response_model=CacheCreated)
async def create_cache(body: CacheCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> CacheCreated:
    cache, password = await service.create(platform, session, user, body)
    return CacheCreated(**service.cache_out(platform, cache).model_dump(), password=password)


@router.get("/caches", response_model=list[CacheOut])
async def list_caches(user: UserDep, platform: PlatformDep, session: SessionDep) -> list[CacheOut]:
    return [service.cache_out(platform, c) for c in await service.list_caches(session, user)]


@router.get("/caches/{cache}", response_model=CacheOut)
async def get_cache(cache: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> CacheOut:
    return service.cache_out(platform, await service.resolve(session, user, cache))


@router.delete("/caches/{cache}", status_code=204)
async def delete_cache(cache: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete(platform, session, user, cache)
    return Response(status_code=204)


@router.post("/caches/{cache}/flush", response_model=CacheOut)
async def flush_cache(cache: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> CacheOut:
    return service.cache_out(platform, await service.flush(platform, session, user, cache))


@router.post("/caches/{cache}/credentials/rotate", response_model=RotatedOut)
async def rotate_credentials(cache: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> RotatedOut:
    c, password = await service.rotate(platform, session, user, cache)
    return RotatedOut(id=c.id, username=c.username, password=password, credentials_secret=c.secret_name)


@router.post("/caches/{cache}/reboot", response_model=CacheOut)
async def reboot_cache(cache: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> CacheOut:
    return service.cache_out(platform, await service.reboot(platform, session, user, cache))


@router.post("/caches/{cache}/stop", response_model=CacheOut)
async def stop_cache(cache: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> CacheOut:
    return service.cache_out(platform, await service.stop(platform, session, user, cache))


@router.post("/caches/{cache}/start", response_model=CacheOut)
async def start_cache(cache: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> CacheOut:
    return service.cache_out(platform, await service.start(platform, session, user, cache))


@router.get("/caches/{cache}/stats", response_model=CacheStats)
async def cache_stats(cache: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> CacheStats:
    return await service.stats(platform, session, user, cache)
