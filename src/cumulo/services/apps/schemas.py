"""App request and response models."""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cumulo.services.apps.detect import TYPES

NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")  # a DNS label (gateway hostnames)
BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]{1,100}(?<![./])$")
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
RESERVED = {"PORT", "GIT_REV", "APP_NAME", "RELEASE"}
MAX_VARS = 100
MAX_VALUE = 32 * 1024
SECRET_NAME = r"^[A-Za-z0-9][A-Za-z0-9/_+=.@-]{0,127}$"  # the Secrets Manager's names


def check_name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("name must be 1-40 lowercase letters, digits or '-' (a DNS label: no leading or "
                         "trailing '-')")
    return value


def check_env(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_VARS:
        raise ValueError(f"at most {MAX_VARS} config vars")
    for key, val in value.items():
        if not ENV_KEY.match(key):
            raise ValueError(f"config var {key[:60]!r}: use letters, digits and '_' (not starting with a digit)")
        if key in RESERVED:
            raise ValueError(f"config var {key} is set by Cumulo")
        if len(val.encode()) > MAX_VALUE or "\0" in val:
            raise ValueError(f"config var {key}: at most 32 KiB, no NUL character")
    return value


class AppCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=40)
    branch: str = Field("main", max_length=100, description="the branch whose pushes deploy")
    git_url: str | None = Field(None, max_length=2048,
                                description="a repository the server clones (https, http, ssh://, git@host:path or git://)")
    git_secret: str | None = Field(None, max_length=128, pattern=SECRET_NAME,
                                   description="a private git_url: the name of your secret (Secrets Manager) "
                                               "holding a token or user:password (https), or an OpenSSH private "
                                               "deploy key (ssh), for the clone")
    env_vars: dict[str, str] = Field(default_factory=dict)
    app_type: str | None = Field(None, description=f"force the type: {', '.join(TYPES)}")
    replicas: int = Field(1, ge=1, le=10)
    memory_mb: int | None = Field(None, ge=32, le=8192)

    _name = field_validator("name")(classmethod(lambda cls, v: check_name(v)))
    _env = field_validator("env_vars")(classmethod(lambda cls, v: check_env(v)))

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        if not BRANCH.match(value) or value.endswith(".lock"):
            raise ValueError("branch must be a plain branch name (letters, digits, '.', '_', '-', '/')")
        return value

    @field_validator("app_type")
    @classmethod
    def _type(cls, value: str | None) -> str | None:
        if value is not None and value not in TYPES:
            raise ValueError(f"app_type must be one of {', '.join(TYPES)}")
        return value


class AppUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    replicas: int | None = Field(None, ge=1, le=10)
    memory_mb: int | None = Field(None, ge=32, le=8192)
    app_type: str | None = None
    branch: str | None = Field(None, max_length=100)
    git_secret: str | None = Field(None, max_length=128, pattern=SECRET_NAME + "|^$",
                                   description="the secret a private git_url is cloned with ('' for none)")

    _type = field_validator("app_type")(classmethod(lambda cls, v: AppCreate._type(v)))
    _branch = field_validator("branch")(classmethod(lambda cls, v: v if v is None else AppCreate._branch(v)))


class AppRef(BaseModel):
    """The seed's way to name an app in a body: ``app_id`` or ``name``."""

    model_config = ConfigDict(extra="forbid")

    app_id: str | None = Field(None, max_length=64)
    name: str | None = Field(None, max_length=64)


class ConfigChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    set: dict[str, str] = Field(default_factory=dict)
    unset: list[str] = Field(default_factory=list, max_length=MAX_VARS)

    _set = field_validator("set")(classmethod(lambda cls, v: check_env(v)))


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release: int | None = Field(None, ge=1, description="the release version (default: the one before the current)")


class DomainAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hostname: str = Field(max_length=253)


class AppOut(BaseModel):
    id: str
    app_id: str
    name: str
    status: str
    app_type: str | None
    url: str | None = Field(description="where the app is served (None for a worker)")
    https_url: str | None = None
    subdomain: str
    git_remote: str = Field(description="push here: git push <git_remote> <branch>")
    branch: str
    git_url: str | None
    git_secret: str | None = Field(None, description="the secret's name the clone uses (never its value)")
    release: int | None = Field(description="the version serving now")
    replicas: int
    memory_mb: int
    domains: list[str]
    error: str | None
    created_at: dt.datetime
    deployed_at: dt.datetime | None


class ReleaseOut(BaseModel):
    id: str
    version: int
    status: str
    description: str
    git_rev: str | None
    process: str
    command: str | None
    build_id: str | None
    current: bool
    error: str | None
    created_at: dt.datetime


class BuildOut(BaseModel):
    id: str
    number: int
    status: str
    git_rev: str | None
    app_type: str | None
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
