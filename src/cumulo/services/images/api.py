"""Image routes: ``GET/POST /images``, ``GET/DELETE /images/{image}``, ``GET /images/{image}/log``.

``POST /images`` answers 201 at once and streams the build as NDJSON: ``{"log": "..."}`` lines,
then ``{"image": {...}}`` or ``{"error": {...}}``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.images import service
from cumulo.services.images.schemas import ImageBuild, ImageOut

router = APIRouter(tags=["images"])


@router.get("/images", response_model=list[ImageOut])
async def list_images(user: UserDep, platform: PlatformDep, session: SessionDep) -> list[ImageOut]:
    """Cumulo's catalogue (shared) plus your own images."""
    return await service.list_images(platform, session, user)


@router.post("/images", status_code=201, response_class=StreamingResponse,
             responses={201: {"content": {"application/x-ndjson": {}}}})
async def build_image(body: ImageBuild, user: UserDep, platform: PlatformDep, session: SessionDep) -> StreamingResponse:
    img, plan = await service.start_build(platform, session, user, body)

    async def stream() -> AsyncIterator[bytes]:
        async for item in service.run_build(platform, img, plan, body.files):
            yield (json.dumps(item) + "\n").encode()

    return StreamingResponse(stream(), status_code=201, media_type="application/x-ndjson",
                             headers={"Location": f"/images/{img.id}"})


@router.get("/images/{image:path}/log", response_class=PlainTextResponse)
async def image_log(image: str, user: UserDep, session: SessionDep) -> PlainTextResponse:
    return PlainTextResponse(await service.build_log(session, user, image))


@router.get("/images/{image:path}", response_model=ImageOut)
async def get_image(image: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> ImageOut:
    return await service.get_image(platform, session, user, image)


@router.delete("/images/{image:path}", status_code=204)
async def delete_image(image: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete_image(platform, session, user, image)
    return Response(status_code=204)
