"""Identity HTTP routes: /auth/* (seed paths) and /admin/users."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from cumulo.api.deps import AdminDep, PlatformDep, SessionDep, UserDep
from cumulo.core.ids import new_id
from cumulo.services.identity import service
from cumulo.services.identity.schemas import (
    ForgotIn,
    KeyCreatedOut,
    KeyCreateIn,
    KeyOut,
    LoginIn,
    LoginOut,
    MessageOut,
    RegisterIn,
    RegisterOut,
    ResetIn,
    RoleIn,
    UserOut,
)

router = APIRouter(tags=["identity"])


@router.post("/auth/register", status_code=201, response_model=RegisterOut)
async def register(body: RegisterIn, platform: PlatformDep, session: SessionDep) -> RegisterOut:
    """The same answer whether or not the address already has an account (its owner is mailed
    instead): registration does not reveal which emails exist."""
    user = await service.register(platform, session, email=body.email, password=body.password, name=body.name)
    return RegisterOut(message=service.REGISTER_MESSAGE, user_id=user.id if user else new_id())


@router.get("/auth/verify/{token}", response_model=MessageOut)
async def verify(token: str, session: SessionDep) -> MessageOut:
    await service.verify_email(session, token)
    return MessageOut(message="email verified")


@router.post("/auth/login", response_model=LoginOut)
async def login(body: LoginIn, request: Request, platform: PlatformDep, session: SessionDep) -> LoginOut:
    source = request.client.host if request.client else ""
    user, key = await service.login(platform, session, email=body.email, password=body.password, source=source,
                                    expires_in_seconds=body.expires_in_seconds)
    return LoginOut(user=service.user_out(user), api_key=key)


@router.post("/auth/logout", status_code=204)
async def logout(user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    """Revoke the API key that makes this call."""
    await service.logout(platform, session, user)
    return Response(status_code=204)


@router.post("/auth/forgot-password", response_model=MessageOut)
async def forgot_password(body: ForgotIn, platform: PlatformDep, session: SessionDep) -> MessageOut:
    await service.forgot_password(platform, session, body.email)
    return MessageOut(message=service.FORGOT_MESSAGE)


@router.post("/auth/reset-password", response_model=MessageOut)
async def reset_password(body: ResetIn, platform: PlatformDep, session: SessionDep) -> MessageOut:
    await service.reset_password(platform, session, body.token, body.new_password)
    return MessageOut(message="password updated successfully")


@router.get("/auth/me", response_model=UserOut)
async def me(user: UserDep, session: SessionDep) -> UserOut:
    return service.user_out(await service.get_user(session, user.user_id))


@router.post("/auth/keys", status_code=201, response_model=KeyCreatedOut)
async def create_key(body: KeyCreateIn, user: UserDep, platform: PlatformDep, session: SessionDep) -> KeyCreatedOut:
    return await service.create_key(platform, session, user, body.name, expires_in_seconds=body.expires_in_seconds,
                                    scopes=body.scopes)


@router.get("/auth/keys", response_model=list[KeyOut])
async def list_keys(user: UserDep, platform: PlatformDep) -> list[KeyOut]:
    return await service.list_keys(platform, user)


@router.delete("/auth/keys/{key_id}", status_code=204)
async def revoke_key(key_id: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> Response:
    await service.revoke_key(platform, session, user, key_id)
    return Response(status_code=204)


@router.post("/auth/keys/{key_id}/rotate", response_model=KeyCreatedOut)
@router.post("/auth/keys/{key_id}/regenerate", response_model=KeyCreatedOut)
async def rotate_key(key_id: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> KeyCreatedOut:
    return await service.rotate_key(platform, session, user, key_id)


@router.get("/admin/users", response_model=list[UserOut])
async def list_users(_admin: AdminDep, session: SessionDep) -> list[UserOut]:
    return [service.user_out(u) for u in await service.list_users(session)]


@router.put("/admin/users/{user_id}/role", response_model=UserOut)
async def set_role(user_id: str, body: RoleIn, admin: AdminDep, platform: PlatformDep,
                   session: SessionDep) -> UserOut:
    return service.user_out(await service.set_role(platform, session, admin, user_id, body.role))
