"""Volume and snapshot request/response models, and the mounts handed to the compute service."""

from __future__ import annotations

import datetime as dt
import posixpath
import re
from dataclasses import dataclass

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$")
PATH_CHARS = re.compile(r"^/[A-Za-z0-9_./-]*$")
FORBIDDEN_MOUNTS = ("/", "/proc", "/sys", "/dev", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/usr", "/boot")
MAX_SIZE_GB = 16000


def check_name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("name must be 3-64 characters: letters, digits, '.', '-' or '_', starting with a "
                         "letter or digit")
    return value


def check_mount_path(value: str) -> str:
    """An absolute, normalised path that is not a system directory (e.g. ``/data``)."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValueError("mount_path must be an absolute path such as /data")
    if len(value) > 255 or not PATH_CHARS.match(value):
        raise ValueError("mount_path may hold letters, digits, '_', '.', '-' and '/' (at most 255 characters)")
    normal = posixpath.normpath(value)
    if normal != value.rstrip("/") or "/.." in value or normal.startswith("//"):
        raise ValueError(f"mount_path must be normalised (no '..', '.', '//' or trailing '/'): {normal!r}")
    if normal in FORBIDDEN_MOUNTS:
        raise ValueError(f"mount_path {normal} is a system directory")
    return normal


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VolumeCreate(In):
    name: str = Field(max_length=64)
    size_gb: int = Field(ge=1, le=MAX_SIZE_GB)

    _name = field_validator("name")(check_name)


class AttachIn(In):
    instance_id: str = Field(min_length=1, max_length=80, description="id or name of one of your instances")
    mount_path: str = Field(max_length=255)

    _path = field_validator("mount_path")(check_mount_path)


class LaunchVolume(In):
    """One item of ``POST /instances {volumes: [...]}``."""

    volume_id: str = Field(min_length=1, max_length=80, description="id or name of one of your volumes")
    mount_path: str = Field(max_length=255)

    _path = field_validator("mount_path")(check_mount_path)


class SnapshotCreate(In):
    description: str = Field("", max_length=255)


class SnapshotCreateFor(SnapshotCreate):
    volume_id: str = Field(min_length=1, max_length=80)


class RestoreIn(In):
    name: str = Field(max_length=64, validation_alias=AliasChoices("name", "new_volume_name"))

    _name = field_validator("name")(check_name)


class VolumeOut(BaseModel):
    id: str
    name: str
    size_gb: int
    status: str  # available | in-use | error
    size_enforced: bool
    instance_id: str | None
    mount_path: str | None
    docker_volume: str
    error: str | None
    root_filesystem_reset: bool = Field(False, description="attach/detach: the instance's container was recreated, "
                                                           "its root filesystem reset to the image")
    warnings: list[str] = Field(default_factory=list)
    created_at: dt.datetime


class SnapshotOut(BaseModel):
    id: str
    volume_id: str
    volume_name: str
    size_gb: int
    description: str
    status: str
    bytes: int
    created_at: dt.datetime


@dataclass(frozen=True)
class Mount:
    """A volume as the compute driver mounts it: Docker volume ``source`` at ``target``."""

    source: str
    target: str
    read_only: bool = False
