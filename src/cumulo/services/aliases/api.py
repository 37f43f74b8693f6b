"""The seed projects' own paths as aliases (the table is in ``service.py`` and the README)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import JSONResponse

from cumulo.api.deps import AdminDep, PlatformDep, SessionDep, UserDep
from cumulo.core.errors import InvalidInput
from cumulo.services.aliases import service
from cumulo.services.aliases.schemas import ContainerIn, ContainerOut, MessageOut, SignupIn, TokenOut, UserOut

router = APIRouter(tags=["seed aliases"])


def _host(request: Request) -> str:
    return request.url.hostname or "127.0.0.1"


@router.post("/token", response_model=TokenOut, summary="Cloud OS: OAuth2 password login (username = email)")
async def token(username: Annotated[str, Form(max_length=320)], password: Annotated[str, Form(max_length=1024)],
                platform: PlatformDep, session: SessionDep) -> TokenOut:
    return TokenOut(access_token=await service.token(platform, session, username=username, password=password))


@router.post("/register", status_code=201, response_model=MessageOut, summary="Cloud OS: register")
@router.post("/auth/signup", status_code=201, response_model=MessageOut, summary="VirtCloud: sign up")
async def signup(body: SignupIn, platform: PlatformDep, session: SessionDep) -> MessageOut:
    return MessageOut(message=await service.register(platform, session, email=body.email, username=body.username,
                                                     password=body.password))


@router.get("/user", response_model=UserOut, summary="Cloud OS: the current user")
async def user(principal: UserDep, platform: PlatformDep, session: SessionDep) -> UserOut:
    return await service.me(platform, session, principal)


@router.post("/users/container", status_code=201, response_model=ContainerOut,
             summary="Cloud OS: a container with your image and password, deleted after its time limit")
async def create_container(body: ContainerIn, request: Request, principal: UserDep, platform: PlatformDep,
                           session: SessionDep) -> ContainerOut:
    return await service.create_container(platform, session, principal, body, _host(request))


@router.get("/users/containers", response_model=list[ContainerOut], summary="Cloud OS: your containers")
async def list_containers(request: Request, principal: UserDep, session: SessionDep) -> list[ContainerOut]:
    return await service.list_containers(session, principal, _host(request))


@router.delete("/users/container", status_code=204, summary="Cloud OS: delete one of your containers")
async def delete_container(principal: UserDep, platform: PlatformDep, session: SessionDep,
                           container_name: Annotated[str | None, Query(max_length=80)] = None,
                           container_id: Annotated[str | None, Query(max_length=80)] = None) -> Response:
    ref = container_name or container_id
    if not ref:
        raise InvalidInput("say which container: ?container_name=NAME (or ?container_id=ID)")
    await service.delete_container(platform, session, principal, ref)
    return Response(status_code=204)


@router.delete("/container/{name}", status_code=204,
               summary="Cloud OS: delete anyone's container by name (administrators; replaces delete_key)")
async def delete_any(name: str, _admin: AdminDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete_any(platform, session, name)
    return Response(status_code=204)


@router.get("/health", summary="CloudNest: system health")
async def health(platform: PlatformDep) -> JSONResponse:
    healthy, body = await service.health(platform)
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/", summary="CloudNest: API information")
async def about() -> dict[str, str]:
    return service.about()
