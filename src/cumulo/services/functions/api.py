"""Cloud Functions routes: ``/functions``; ``{fn}`` is an id or a name.

Create and update take the seed's JSON (``code_zip`` base64) or a multipart form (file ``code``,
``env``/``env_secrets`` as JSON in their fields). Invoke takes ``{payload, async}`` or a raw JSON body.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from cumulo.api import deps
from cumulo.api.deps import PageDep, PlatformDep, SessionDep, UserDep
from cumulo.core.errors import InvalidInput, PayloadTooLarge, not_found
from cumulo.services.functions import invoke as invocations
from cumulo.services.functions import runtimes, service, sources
from cumulo.services.functions.schemas import (
    EventSourceIn,
    EventSourceOut,
    FunctionCreate,
    FunctionOut,
    FunctionUpdate,
    InvocationOut,
    LogEntry,
    RuntimeOut,
)

router = APIRouter(tags=["functions"])
FORM_FIELDS = ("name", "runtime", "handler", "timeout_seconds", "memory_mb", "max_concurrency", "env",
               "env_secrets", "vpc_id", "dead_letter_queue", "code_zip")


async def _parse(request: Request, model: type[BaseModel], max_zip: int) -> tuple[Any, bytes | None]:
    """The body as ``model`` plus the zip bytes, from JSON or multipart."""
    content_type = request.headers.get("content-type", "")
    data: bytes | None = None
    try:
        if content_type.startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=len(FORM_FIELDS) + 2)
            fields: dict[str, Any] = {}
            for key, value in form.multi_items():
                if key == "code" and not isinstance(value, str):
                    data = await value.read(max_zip + 1)
                elif key in FORM_FIELDS and isinstance(value, str):
                    fields[key] = json.loads(value) if key in ("env", "env_secrets") and value else value
                else:
                    raise InvalidInput(f"unexpected form field '{key}'")
            body = model.model_validate(fields)
        else:
            raw = await request.body()
            body = model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"malformed request body: {exc}") from None
    code_zip = getattr(body, "code_zip", None)  # FunctionCreate and FunctionUpdate: base64 in the JSON body
    if data is None and code_zip:
        data = service.decode_zip(code_zip)
    if data is not None and len(data) > max_zip:
        raise PayloadTooLarge(f"code zip is larger than {max_zip} bytes")
    return body, data


@router.get("/functions/runtimes", response_model=list[RuntimeOut])
async def list_runtimes(user: UserDep, platform: PlatformDep) -> list[RuntimeOut]:
    found = await runtimes.available(platform, service.docker(platform))
    return [RuntimeOut(**r.public()) for r in found]


@router.post("/functions", status_code=201, response_model=FunctionOut,
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": FunctionCreate.model_json_schema()},
                 "multipart/form-data": {"schema": {"type": "object"}}}}})
async def create_function(request: Request, user: UserDep, platform: PlatformDep, session: SessionDep) -> FunctionOut:
    body, data = await _parse(request, FunctionCreate, platform.settings.function_max_zip_bytes)
    if data is None:
        raise InvalidInput("the function code is required: a zip as file 'code' or base64 in 'code_zip'")
    fn, ver = await service.create(platform, session, user, body, data)
    return service.function_out(platform, fn, ver)


@router.get("/functions", response_model=list[FunctionOut])
async def list_functions(user: UserDep, platform: PlatformDep, session: SessionDep, page: PageDep, request: Request,
                         response: Response) -> list[FunctionOut]:
    """``?q=`` (name, runtime), ``?status=``, ``?limit=&offset=``: searched and paged on the server."""
    return deps.paged_list(request, response, page, [service.function_out(platform, fn, ver) for fn, ver in
                                                     await service.list_functions(session, user)], ("name", "runtime"))


@router.get("/functions/{fn}", response_model=FunctionOut)
async def get_function(fn: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> FunctionOut:
    return service.function_out(platform, *await service.get(session, user, fn))


UPDATE_BODY = {"requestBody": {"content": {"application/json": {"schema": FunctionUpdate.model_json_schema()},
                                           "multipart/form-data": {"schema": {"type": "object"}}}}}


@router.put("/functions/{fn}", response_model=FunctionOut, openapi_extra=UPDATE_BODY)
@router.patch("/functions/{fn}", response_model=FunctionOut, openapi_extra=UPDATE_BODY)
async def update_function(fn: str, request: Request, user: UserDep, platform: PlatformDep,
                          session: SessionDep) -> FunctionOut:
    body, data = await _parse(request, FunctionUpdate, platform.settings.function_max_zip_bytes)
    function, ver = await service.update(platform, session, user, fn, body, data)
    invocations.forget_specs(platform, function.id)
    return service.function_out(platform, function, ver)


@router.delete("/functions/{fn}", status_code=204)
async def delete_function(fn: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    invocations.forget_specs(platform, await service.delete_function(platform, session, user, fn))
    return Response(status_code=204)


@router.post("/functions/{fn}/invoke", response_model=InvocationOut,
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": {}}}}})
async def invoke_function(fn: str, request: Request, user: UserDep, platform: PlatformDep, session: SessionDep,
                          async_: bool | None = Query(None, alias="async")) -> Any:
    raw = await request.body()
    try:
        doc = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the invocation body must be JSON") from None
    payload, is_async = doc, bool(async_)
    if isinstance(doc, dict) and doc and set(doc) <= {"payload", "async"}:  # the seed's envelope
        payload = doc.get("payload")
        if "async" in doc:
            if not isinstance(doc["async"], bool):
                raise InvalidInput("'async' must be true or false")
            is_async = doc["async"] if async_ is None else bool(async_)
    row, result = await invocations.invoke(platform, session, user, fn, payload, is_async=is_async)
    out = invocations.invocation_out(row, result)
    if is_async:
        return JSONResponse(out.model_dump(mode="json"), status_code=202)
    return out


@router.get("/functions/{fn}/invocations", response_model=list[InvocationOut])
async def list_invocations(fn: str, user: UserDep, session: SessionDep,
                           limit: int = Query(50, ge=1, le=500)) -> list[InvocationOut]:
    return [invocations.invocation_out(r) for r in await invocations.list_invocations(session, user, fn, limit=limit)]


@router.get("/functions/{fn}/invocations/{invocation_id}", response_model=InvocationOut)
async def get_invocation(fn: str, invocation_id: str, user: UserDep, session: SessionDep) -> InvocationOut:
    return invocations.invocation_out(await invocations.get_invocation(session, user, fn, invocation_id))


@router.get("/functions/{fn}/logs", response_model=list[LogEntry])
async def function_logs(fn: str, user: UserDep, session: SessionDep, limit: int = Query(100, ge=1, le=500),
                        since: dt.datetime | None = Query(None, description="only invocations that ended after this "
                                                          "time, oldest first (for --follow)")) -> list[LogEntry]:
    rows = await invocations.list_invocations(session, user, fn, limit=limit, since=since)
    return [invocations.log_entry(r) for r in rows]


@router.post("/functions/{fn}/event-sources", status_code=201, response_model=EventSourceOut)
async def create_event_source(fn: str, body: EventSourceIn, user: UserDep, platform: PlatformDep,
                              session: SessionDep) -> EventSourceOut:
    return sources.source_out(await sources.create(platform, session, user, fn, body))


@router.get("/functions/{fn}/event-sources", response_model=list[EventSourceOut])
async def list_event_sources(fn: str, user: UserDep, session: SessionDep) -> list[EventSourceOut]:
    return [sources.source_out(s) for s in await sources.list_sources(session, user, fn)]


@router.get("/functions/{fn}/event-sources/{source_id}", response_model=EventSourceOut)
async def get_event_source(fn: str, source_id: str, user: UserDep, session: SessionDep) -> EventSourceOut:
    found = [s for s in await sources.list_sources(session, user, fn) if s.id == source_id]
    if not found:
        raise not_found("event source", source_id)
    return sources.source_out(found[0])


@router.delete("/functions/{fn}/event-sources/{source_id}", status_code=204)
async def delete_event_source(fn: str, source_id: str, user: UserDep, session: SessionDep) -> Response:
    await sources.delete(session, user, fn, source_id)
    return Response(status_code=204)
