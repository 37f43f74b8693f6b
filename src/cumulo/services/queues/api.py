"""Queue HTTP routes (seed paths ``/queues`` and ``/queues/{id}/messages``); ``{queue}`` is an id or a name."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from cumulo.api import deps
from cumulo.api.deps import PageDep, PlatformDep, SessionDep, UserDep
from cumulo.services.queues import service
from cumulo.services.queues.messages import queue_cache
from cumulo.services.queues.schemas import (
    BatchIn,
    BatchSentOut,
    CountOut,
    DeleteBatchIn,
    DeleteBatchOut,
    MessageIn,
    QueueCreate,
    QueueOut,
    QueueUpdate,
    ReceivedOut,
    RedriveIn,
    SentOut,
    StatsOut,
    VisibilityIn,
)

router = APIRouter(tags=["queues"])
Ref = str


@router.post("/queues", status_code=201, response_model=QueueOut)
async def create_queue(body: QueueCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> QueueOut:
    queue_cache(platform).forget(user.user_id)
    return service.queue_out(await service.create(session, user.user_id, body, platform=platform))


@router.get("/queues", response_model=list[QueueOut])
async def list_queues(user: UserDep, session: SessionDep, page: PageDep, request: Request,
                      response: Response) -> list[QueueOut]:
    """``?q=`` (name), ``?limit=&offset=``: searched and paged on the server (``X-Total-Count``)."""
    return deps.paged_list(request, response, page,
                           [service.queue_out(q) for q in await service.list_queues(session, user.user_id)], ("name",))


@router.get("/queues/{queue}", response_model=QueueOut)
async def get_queue(queue: Ref, user: UserDep, session: SessionDep) -> QueueOut:
    return service.queue_out(await service.resolve(session, user.user_id, queue))


@router.put("/queues/{queue}", response_model=QueueOut)
@router.patch("/queues/{queue}", response_model=QueueOut)
async def update_queue(queue: Ref, body: QueueUpdate, user: UserDep, platform: PlatformDep,
                       session: SessionDep) -> QueueOut:
    try:
        return service.queue_out(await service.update(session, user.user_id, queue, body))
    finally:
        queue_cache(platform).forget(user.user_id)


@router.delete("/queues/{queue}", status_code=204)
async def delete_queue(queue: Ref, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    try:
        await service.delete_queue(session, user.user_id, queue)
    finally:
        queue_cache(platform).forget(user.user_id)
    return Response(status_code=204)


@router.post("/queues/{queue}/purge", response_model=CountOut)
async def purge_queue(queue: Ref, user: UserDep, session: SessionDep) -> CountOut:
    return CountOut(count=await service.purge(session, user.user_id, queue))


@router.get("/queues/{queue}/stats", response_model=StatsOut)
async def queue_stats(queue: Ref, user: UserDep, session: SessionDep) -> StatsOut:
    return await service.stats(session, user.user_id, queue)


@router.post("/queues/{queue}/redrive", response_model=CountOut)
async def redrive(queue: Ref, user: UserDep, platform: PlatformDep, session: SessionDep,
                  body: RedriveIn | None = None) -> CountOut:
    """Move messages of this dead-letter queue back to their source queue (or to ``destination``)."""
    body = body or RedriveIn()
    return CountOut(count=await service.redrive(platform, session, user.user_id, queue, body.destination,
                                                body.max_messages))


@router.post("/queues/{queue}/messages", status_code=201, response_model=SentOut)
async def send_message(queue: Ref, body: MessageIn, user: UserDep, platform: PlatformDep) -> SentOut:
    return (await service.send(platform, user.user_id, queue, [body]))[0]


@router.post("/queues/{queue}/messages/batch", status_code=201, response_model=BatchSentOut)
async def send_batch(queue: Ref, body: BatchIn, user: UserDep, platform: PlatformDep) -> BatchSentOut:
    return BatchSentOut(messages=await service.send(platform, user.user_id, queue, body.messages))


@router.get("/queues/{queue}/messages", response_model=list[ReceivedOut])
async def receive_messages(
    queue: Ref, user: UserDep, platform: PlatformDep,
    max_messages: int | None = Query(None, ge=1, le=10, description="1-10 (default 1)"),
    count: int | None = Query(None, ge=1, le=10, description="the seed's name for max_messages"),
    wait_seconds: int | None = Query(None, ge=0, le=20, description="long polling (default: the queue's)"),
    visibility_timeout: int | None = Query(None, ge=0, le=43200),
) -> list[ReceivedOut]:
    return await service.receive(platform, user.user_id, queue, max_messages=max_messages or count or 1,
                                 wait_seconds=wait_seconds, visibility_timeout=visibility_timeout)


@router.post("/queues/{queue}/messages/delete", response_model=DeleteBatchOut)
async def delete_batch(queue: Ref, body: DeleteBatchIn, user: UserDep, platform: PlatformDep) -> DeleteBatchOut:
    return await service.delete_handles(platform, user.user_id, queue, body.receipt_handles)


@router.delete("/queues/{queue}/messages/{receipt_handle}", status_code=204)
async def delete_message(queue: Ref, receipt_handle: str, user: UserDep, platform: PlatformDep) -> Response:
    await service.delete_message(platform, user.user_id, queue, receipt_handle)
    return Response(status_code=204)


@router.put("/queues/{queue}/messages/{receipt_handle}/visibility", status_code=204)
async def change_visibility(queue: Ref, receipt_handle: str, body: VisibilityIn, user: UserDep,
                            platform: PlatformDep, session: SessionDep) -> Response:
    await service.change_visibility(platform, session, user.user_id, queue, receipt_handle, body.visibility_timeout)
    return Response(status_code=204)
