"""Identity request and response models (the seed's paths and bodies)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AliasChoices, BaseModel, ConfigDict, EmailStr, Field, computed_field, field_validator

MIN_PASSWORD = 8
MAX_PASSWORD = 128


def check_password(value: str) -> str:
    """At least 8 characters and more than one class of character (lower, upper, digit, symbol)."""
    if len(value) < MIN_PASSWORD:
        raise ValueError(f"password must be at least {MIN_PASSWORD} characters")
    if len(value) > MAX_PASSWORD:
        raise ValueError(f"password must be at most {MAX_PASSWORD} characters")
    classes = [any(c.islower() for c in value), any(c.isupper() for c in value),
               any(c.isdigit() for c in value), any(not c.isalnum() for c in value)]
    if sum(classes) < 2:
        raise ValueError("password is too weak: mix letters with digits, capitals or symbols")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class RegisterIn(Strict):
    email: EmailStr = Field(max_length=255)
    password: str
    name: str = Field(min_length=1, max_length=100, validation_alias=AliasChoices("name", "username"),
                      description="also accepted as `username` (the CloudNest and VirtCloud seeds send that)")

    _pw = field_validator("password")(check_password)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("name must not be blank")
        return v


class RegisterOut(BaseModel):
    message: str
    user_id: str


MAX_KEY_SECONDS = 10 * 365 * 86400


class LoginIn(Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    expires_in_seconds: int | None = Field(None, ge=60, le=MAX_KEY_SECONDS, description=(
        "lifetime of the new key (default CUMULO_LOGIN_KEY_TTL_SECONDS)"))


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: str = "user"
    email_verified: bool = False
    created_at: dt.datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def username(self) -> str:
        """The name again, for the seed clients (CloudNest, VirtCloud) that read ``username``."""
        return self.name


class LoginOut(BaseModel):
    user: UserOut
    api_key: str


class ForgotIn(Strict):
    email: EmailStr = Field(max_length=320)


class ResetIn(Strict):
    token: str = Field(min_length=1, max_length=256)
    new_password: str

    _pw = field_validator("new_password")(check_password)


class MessageOut(BaseModel):
    message: str


class KeyCreateIn(Strict):
    name: str = Field("default", min_length=1, max_length=100)
    expires_in_seconds: int | None = Field(None, ge=60, le=MAX_KEY_SECONDS, description=(
        "the key stops working this many seconds from now (default: never)"))
    scopes: list[Annotated[str, Field(max_length=32)]] | None = Field(None, max_length=20, description=(
        'limit the key: "read-only" (GET/HEAD only) and/or service names such as "storage", "queues"'))


class KeyOut(BaseModel):
    id: str
    user_id: str
    name: str
    prefix: str
    created_at: dt.datetime
    last_used: dt.datetime | None
    expires_at: dt.datetime | None = None
    scopes: list[str] = Field(default_factory=list, description="empty: the key may do everything its user may")
    login: bool = Field(False, description="made by a login")


class KeyCreatedOut(KeyOut):
    key: str = Field(description="The key itself: shown only this once")


class RoleIn(Strict):
    role: str = Field(pattern="^(admin|user)$")
