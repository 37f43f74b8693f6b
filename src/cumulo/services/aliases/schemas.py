"""Bodies of the seed projects' own paths (Cloud OS, VirtCloud, CloudNest), as their clients send them."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from cumulo.services.identity.schemas import check_password

MAX_MINUTES = 30 * 24 * 60


class In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SignupIn(In):
    """Cloud OS ``POST /register`` and VirtCloud ``POST /auth/signup``: a username instead of a name."""

    email: EmailStr = Field(max_length=255)
    username: str = Field(min_length=1, max_length=100)
    password: str
    plan: str | None = Field(None, max_length=32, description="VirtCloud's plan: accepted, not billed")

    _pw = field_validator("password")(check_password)

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("username must not be blank")
        return v.strip()


class MessageOut(BaseModel):
    message: str


class TokenOut(BaseModel):
    access_token: str = Field(description="An API key: send it as `Authorization: Bearer` (or `X-API-Key`)")
    token_type: str = "bearer"


class UserOut(BaseModel):
    id: str
    username: str
    email: str
    role: str
    disabled: bool = False
    verified: bool
    active_containers: int
    max_containers: int
    created_at: dt.datetime | None


class ContainerIn(In):
    container_image: str = Field(min_length=1, max_length=255, description="Any image: catalogue, yours or a registry's")
    password: str = Field(min_length=1, max_length=128, description="The container's password (VNC_PW / root)")
    port: int | None = Field(None, ge=1, le=65535, description="A container port to publish on a free host port")
    time_limit_minutes: int = Field(60, ge=1, le=MAX_MINUTES, description="Deleted after this long (default 1 h)")


class ContainerOut(BaseModel):
    container_id: str
    container_name: str
    container_image: str
    status: str
    port: int | None = Field(None, description="The published host port")
    service_url: str | None
    down_time: dt.datetime | None = Field(description="When the container is deleted")
    created_at: dt.datetime
