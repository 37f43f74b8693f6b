"""API gateway routes: ``/routes`` (``{route}`` is an id or a name), route keys, and ``/gateway``
(the data plane's public ports and the internal CA certificate)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.core.errors import Unavailable
from cumulo.services.gateway import service
from cumulo.services.gateway.dataplane import dataplane
from cumulo.services.gateway.schemas import (
    GatewayOut,
    RouteCreate,
    RouteKeyCreate,
    RouteKeyCreatedOut,
    RouteKeyOut,
    RouteOut,
)

router = APIRouter(tags=["gateway"])


@router.get("/gateway", response_model=GatewayOut)
async def gateway_info(user: UserDep, platform: PlatformDep) -> GatewayOut:
    s = platform.settings
    return GatewayOut(http_port=s.proxy_http_port, https_port=s.proxy_https_port, base_domain=s.proxy_base_domain,
                      acme=bool(s.proxy_acme_email))


@router.get("/gateway/ca.pem", response_class=Response,
            responses={200: {"content": {"application/x-pem-file": {}}}})
async def ca_certificate(user: UserDep, platform: PlatformDep) -> Response:
    """The root certificate of the internal CA that signs the HTTPS hostnames (trust it in clients)."""
    pem = await dataplane(platform).ca_certificate()
    if not pem:
        raise Unavailable("the proxy has not started yet: it starts with the first route or load balancer")
    return Response(pem, media_type="application/x-pem-file")


@router.post("/routes", status_code=201, response_model=RouteOut)
async def create_route(body: RouteCreate, user: UserDep, platform: PlatformDep, session: SessionDep) -> RouteOut:
    return service.route_out(platform, await service.create(platform, session, user, body))


@router.get("/routes", response_model=list[RouteOut])
async def list_routes(user: UserDep, platform: PlatformDep, session: SessionDep) -> list[RouteOut]:
    return [service.route_out(platform, r) for r in await service.list_routes(session, user)]


@router.get("/routes/{route}", response_model=RouteOut)
async def get_route(route: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> RouteOut:
    return service.route_out(platform, await service.get(session, user, route))


@router.delete("/routes/{route}", status_code=204, response_class=Response)
async def delete_route(route: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.delete(platform, session, user, route)
    return Response(status_code=204)


@router.post("/routes/{route}/keys", status_code=201, response_model=RouteKeyCreatedOut)
async def create_route_key(route: str, body: RouteKeyCreate, user: UserDep, session: SessionDep) -> RouteKeyCreatedOut:
    return await service.create_key(session, user, route, body.name)


@router.get("/routes/{route}/keys", response_model=list[RouteKeyOut])
async def list_route_keys(route: str, user: UserDep, session: SessionDep) -> list[RouteKeyOut]:
    return [service.key_out(k) for k in await service.list_keys(session, user, route)]


@router.delete("/routes/{route}/keys/{key_id}", status_code=204, response_class=Response)
async def delete_route_key(route: str, key_id: str, user: UserDep, session: SessionDep) -> Response:
    await service.delete_key(session, user, route, key_id)
    return Response(status_code=204)
