"""App routes: the CloudNest seed's paths (``/apps/create``, ``/apps/deploy``, ``/apps/start``,
``/apps/stop``, ``/apps/list``, ``/apps/{id}/status``, ``/apps/{id}/logs``, ``DELETE /apps/{id}``),
a REST face (``/apps``, ``/apps/{app}``, releases, rollback, builds, config, domains), and each
app's Git remote over smart HTTP (``/git/<name>.git``: HTTP Basic, the API key as the password)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

from cumulo.api.deps import PlatformDep, SessionDep, UserDep, authenticate
from cumulo.core.errors import CumuloError, InvalidInput, NotFound, PayloadTooLarge
from cumulo.services.apps import git, logs, pipeline, service, source
from cumulo.services.apps.schemas import (
    AppCreate,
    AppOut,
    AppRef,
    AppUpdate,
    BuildOut,
    ConfigChange,
    DomainAdd,
    ReleaseOut,
    Rollback,
)

router = APIRouter(tags=["apps"])
# a push streams its pack to git, a source upload to disk (both CUMULO_APPS_MAX_PUSH_MB)
STREAMED = (("POST", "/git/"), ("PUT", "/apps/*/source"), ("POST", "/apps/*/source"))
RESERVED = {"list", "create", "deploy", "start", "stop"}


def _ref(body: AppRef) -> str:
    ref = body.app_id or body.name
    if not ref:
        raise InvalidInput("name the app with app_id or name")
    return ref


async def _create(body: AppCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    if body.name in RESERVED:
        raise InvalidInput(f"'{body.name}' is reserved; choose another app name")
    app = await service.create(platform, session, user, body)
    if body.git_url:
        app_id = app.id
        try:
            app = await service.redeploy(platform, session, user, app_id)
        except CumuloError:  # the first clone failed: no app is left behind
            await session.rollback()
            await service.delete(platform, session, user, app_id)
            raise
    return await service.render(platform, session, app)


# --- the seed's paths ------------------------------------------------------------------------------

@router.post("/apps/create", status_code=201, response_model=AppOut, summary="CloudNest: create (and deploy) an app")
async def seed_create(body: AppCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    return await _create(body, user, platform, session)


@router.post("/apps/deploy", status_code=202, response_model=AppOut, summary="CloudNest: build and deploy again")
async def seed_deploy(body: AppRef, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    app = await service.redeploy(platform, session, user, _ref(body))
    return await service.render(platform, session, app)


@router.post("/apps/start", response_model=AppOut, summary="CloudNest: start a stopped app")
async def seed_start(body: AppRef, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    app = await service.restart_app(platform, session, user, _ref(body))
    return await service.render(platform, session, app)


@router.post("/apps/stop", response_model=AppOut, summary="CloudNest: stop an app")
async def seed_stop(body: AppRef, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    app = await service.stop(platform, session, user, _ref(body))
    return await service.render(platform, session, app)


@router.get("/apps/list", response_model=list[AppOut], summary="CloudNest: your apps")
async def seed_list(user: UserDep, platform: PlatformDep, session: SessionDep) -> list[AppOut]:
    return [await service.render(platform, session, a) for a in await service.list_apps(session, user)]


@router.get("/apps/{app}/status", response_model=AppOut)
async def app_status(app: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    return await service.render(platform, session, await service.get(session, user, app))


@router.get("/apps/{app}/logs", response_model=list[str],
            responses={200: {"content": {"text/plain": {}}, "description": "with follow=true: a text stream"}},
            summary="the app's runtime log lines (last `tail`); follow=true streams new lines as text")
async def app_logs(app: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                   tail: int = Query(100, ge=1, le=5000),
                   follow: bool = Query(False, description="keep the answer open, one line per new log line"),
                   ) -> Any:
    if not follow:
        return await service.logs(platform, session, user, app, tail)
    found = await service.get(session, user, app)
    logs.check_slot(platform, user.user_id)  # 429 before the stream starts
    app_id, user_id = found.id, user.user_id

    async def stream() -> AsyncIterator[bytes]:
        with logs.slot(platform, user_id):  # let go when it ends or the client goes away
            async for line in logs.follow(platform, app_id, tail):
                yield line.encode("utf-8", "replace")

    return StreamingResponse(stream(), media_type="text/plain; charset=utf-8",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# --- REST ------------------------------------------------------------------------------------------

@router.post("/apps", status_code=201, response_model=AppOut)
async def create_app(body: AppCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    return await _create(body, user, platform, session)


@router.get("/apps", response_model=list[AppOut])
async def list_apps(user: UserDep, platform: PlatformDep, session: SessionDep) -> list[AppOut]:
    return await seed_list(user, platform, session)


@router.get("/apps/{app}", response_model=AppOut)
async def get_app(app: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    return await app_status(app, user, platform, session)


@router.patch("/apps/{app}", response_model=AppOut, summary="replicas, memory_mb (restart), app_type, branch")
async def update_app(app: str, body: AppUpdate, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    return await service.render(platform, session, await service.update(platform, session, user, app, body))


@router.delete("/apps/{app}", status_code=204)
async def delete_app(app: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete(platform, session, user, app)
    return Response(status_code=204)


@router.post("/apps/{app}/deploy", status_code=202, response_model=AppOut)
async def deploy_app(app: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    return await service.render(platform, session, await service.redeploy(platform, session, user, app))


@router.post("/apps/{app}/restart", response_model=AppOut)
async def restart_app(app: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    return await service.render(platform, session, await service.restart_app(platform, session, user, app))


@router.post("/apps/{app}/start", response_model=AppOut)
async def start_app(app: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    return await restart_app(app, user, platform, session)


@router.post("/apps/{app}/stop", response_model=AppOut)
async def stop_app(app: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    return await service.render(platform, session, await service.stop(platform, session, user, app))


@router.post("/apps/{app}/purge-cache", status_code=204, summary="forget the app's cached dependencies")
async def purge_cache(app: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    found = await service.get(session, user, app)
    from cumulo.services.apps import build

    build.purge_cache(platform, found.id)
    await build.remove_deps_images(platform, found.id)
    return Response(status_code=204)


@router.get("/apps/{app}/releases", response_model=list[ReleaseOut])
async def list_releases(app: str, user: UserDep, session: SessionDep) -> list[ReleaseOut]:
    return await service.releases(session, user, app)


@router.post("/apps/{app}/rollback", response_model=ReleaseOut)
async def rollback(app: str, body: Rollback, user: UserDep, platform: PlatformDep, session: SessionDep) -> ReleaseOut:
    release = await service.rollback(platform, session, user, app, body.release)
    return service.release_out(release, release.id)


@router.get("/apps/{app}/builds", response_model=list[BuildOut])
async def list_builds(app: str, user: UserDep, session: SessionDep) -> list[BuildOut]:
    return await service.builds(session, user, app)


@router.get("/apps/{app}/builds/{build}/log", response_class=PlainTextResponse)
async def build_log(app: str, build: str, user: UserDep, session: SessionDep) -> PlainTextResponse:
    return PlainTextResponse(await service.build_log(session, user, app, build))


@router.get("/apps/{app}/config", response_model=dict[str, str])
async def get_config(app: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> dict[str, str]:
    return await service.config(platform, session, user, app)


@router.patch("/apps/{app}/config", response_model=dict[str, str],
              summary="set/unset config vars (a new release when one is serving)")
async def change_config(app: str, body: ConfigChange, user: UserDep, platform: PlatformDep,
                        session: SessionDep) -> dict[str, str]:
    return await service.change_config(platform, session, user, app, body)


@router.get("/apps/{app}/domains", response_model=list[str])
async def list_domains(app: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> list[str]:
    return (await app_status(app, user, platform, session)).domains


@router.post("/apps/{app}/domains", status_code=201, response_model=AppOut)
async def add_domain(app: str, body: DomainAdd, user: UserDep, platform: PlatformDep, session: SessionDep) -> AppOut:
    found = await service.add_domain(platform, session, user, app, body.hostname)
    return await service.render(platform, session, found)


@router.delete("/apps/{app}/domains/{hostname}", status_code=204)
async def remove_domain(app: str, hostname: str, user: UserDep, platform: PlatformDep,
                        session: SessionDep) -> Response:
    await service.remove_domain(platform, session, user, app, hostname)
    return Response(status_code=204)


async def _receive(request: Request, cap: int, archive: Path) -> str:
    """Spool the body to ``archive`` (at most ``cap`` bytes); its SHA-1."""
    digest = hashlib.sha1(usedforsecurity=False)
    size = 0
    with open(archive, "wb") as fh:  # noqa: ASYNC230 - a local temp file
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise PayloadTooLarge(f"an upload is at most {cap // (1024 * 1024)} MB (CUMULO_APPS_MAX_PUSH_MB)")
            digest.update(chunk)
            fh.write(chunk)
    with open(archive, "rb") as fh:  # noqa: ASYNC230 - a local temp file
        if source.kind(fh.read(512)) is None:
            raise InvalidInput("send the tree as a .tar.gz, .tar or .zip body")
    return digest.hexdigest()


@router.post("/apps/{app}/source", status_code=201, response_class=StreamingResponse,
             responses={201: {"content": {"application/x-ndjson": {}}}},
             summary="deploy a .tar.gz, .tar or .zip of the tree without git: the build log streams as NDJSON")
async def upload_source(app: str, request: Request, user: UserDep, platform: PlatformDep,
                        session: SessionDep) -> StreamingResponse:
    """The archive is checked as a push is (no ``..`` or absolute names, no symlink out of the tree,
    no devices or hard links, the file, tree and upload caps, a zip bomb cap) before anything is
    built: a bad one is 400, a deploy already running 409. Then ``{"log": ...}`` lines, and last
    ``{"release": ...}`` or ``{"error": ...}`` (a failed build or health check: the current release
    keeps serving)."""
    found = await service.get(session, user, app)
    app_id = found.id
    work = Path(tempfile.mkdtemp(prefix="upload-", dir=pipeline._tmp(platform)))
    stack = contextlib.AsyncExitStack()
    try:
        digest = await _receive(request, platform.settings.apps_max_push_mb * 1024 * 1024, work / "source")
        await asyncio.to_thread(pipeline.unpack, platform, work / "source", work / "src")
        await stack.enter_async_context(pipeline.deploy_lock(platform, app_id))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    async def deploy() -> dict[str, Any]:
        try:
            release = await service.upload(platform, app_id, work / "src", digest, lines.put_nowait)
            return {"release": service.release_out(release, release.id).model_dump(mode="json")}
        except CumuloError as exc:
            return {"error": {"code": exc.code, "message": exc.message}}
        finally:
            await stack.aclose()
            lines.put_nowait(None)
            shutil.rmtree(work, ignore_errors=True)

    task = asyncio.create_task(deploy())
    tasks: set[asyncio.Task[Any]] = platform.extras.setdefault("apps.deploys", set())
    tasks.add(task)  # held: a client that goes away does not stop the deploy half-way
    task.add_done_callback(tasks.discard)

    async def stream() -> AsyncIterator[bytes]:
        while (line := await lines.get()) is not None:
            yield (json.dumps({"log": line}) + "\n").encode()
        yield (json.dumps(await task) + "\n").encode()

    return StreamingResponse(stream(), status_code=201, media_type="application/x-ndjson")


@router.put("/apps/{app}/source", status_code=201, response_class=StreamingResponse,
            responses={201: {"content": {"application/x-ndjson": {}}}},
            summary="the same as POST /apps/{app}/source (kept for older clients)")
async def put_source(app: str, request: Request, user: UserDep, platform: PlatformDep,
                     session: SessionDep) -> StreamingResponse:
    return await upload_source(app, request, user, platform, session)


# --- the Git remote --------------------------------------------------------------------------------

def _basic_key(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password or user or None


def _refuse(status: int, message: str) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="Cumulo apps (API key as the password)"'} if status == 401 else {}
    return PlainTextResponse(message + "\n", status_code=status, headers=headers)


async def _git(request: Request, repo: str, service_path: str, platform: PlatformDep) -> Response:
    if not repo.endswith(".git"):
        return _refuse(404, "repository not found")
    key = _basic_key(request)
    if not key:
        return _refuse(401, "authenticate with your API key as the password")
    try:
        user = await authenticate(request, key)
    except CumuloError as exc:
        if exc.status == 401:
            return _refuse(401, exc.message)
        raise
    async with platform.db.session() as session:
        try:
            app = await service.get(session, user, repo.removesuffix(".git"))
        except NotFound:
            return _refuse(404, "repository not found")
    query = request.url.query
    pushing = service_path == "git-receive-pack" or "service=git-receive-pack" in query
    if pushing and user.scopes and "read-only" in user.scopes:
        return _refuse(403, "this API key is read-only")
    app_id = app.id

    async def deploy(refs: str, archive: Path, log: Callable[[str], None]) -> int:
        return await service.push(platform, app_id, refs, archive, log)

    backend = await git.serve(
        platform, app.id, app.branch, method=request.method, service_path=service_path, query=query,
        content_type=request.headers.get("content-type", ""), content_encoding=request.headers.get("content-encoding"),
        body=request.stream(), remote_user=user.user_id, max_bytes=platform.settings.apps_max_push_mb * 1024 * 1024,
        deploy=deploy if service_path == "git-receive-pack" else None)
    headers = {k: v for k, v in backend.headers.items() if k.lower() not in ("content-length", "status")}
    return StreamingResponse(backend.body(), status_code=backend.status, headers=headers,
                             media_type=backend.headers.get("Content-Type"))


@router.get("/git/{repo}/info/refs", include_in_schema=False)
async def git_refs(repo: str, request: Request, platform: PlatformDep) -> Response:
    return await _git(request, repo, "info/refs", platform)


@router.post("/git/{repo}/git-upload-pack", include_in_schema=False)
async def git_upload(repo: str, request: Request, platform: PlatformDep) -> Response:
    return await _git(request, repo, "git-upload-pack", platform)


@router.post("/git/{repo}/git-receive-pack", include_in_schema=False)
async def git_receive(repo: str, request: Request, platform: PlatformDep) -> Response:
    return await _git(request, repo, "git-receive-pack", platform)
