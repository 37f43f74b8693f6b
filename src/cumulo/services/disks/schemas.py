"""Disk request and response models."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$"
Format = Literal["qcow2", "raw", "vmdk", "vdi"]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DiskCreate(In):
    name: str = Field(pattern=NAME, max_length=64)
    size_gb: int | None = Field(None, ge=1, le=65536, description="needed for an empty disk; from an image: at "
                                "least the image's size (its size when left out)")
    format: Literal["qcow2", "raw"] = "qcow2"
    image: str | None = Field(None, min_length=1, max_length=255, description="a copy of this image's root disk "
                              "(a catalogue image such as cumulo/debian, or one of yours), grown to size_gb")


class DiskImport(In):
    name: str = Field(pattern=NAME, max_length=64)
    source: str = Field(min_length=6, max_length=1100, description="s3://BUCKET/KEY: an object in one of your buckets")
    version_id: str | None = Field(None, max_length=64)


class DiskResize(In):
    size_gb: int = Field(ge=1, le=65536)
    allow_shrink: bool = Field(False, description="needed to make a disk smaller (data past the new end is lost)")


class DiskConvert(In):
    format: Format


class DiskRename(In):
    name: str = Field(pattern=NAME, max_length=64)


class DiskClone(In):
    name: str = Field(pattern=NAME, max_length=64)


class DiskAttach(In):
    instance_id: str = Field(min_length=1, max_length=80, description="a VM (backend: vm): id or name")


class SnapshotCreate(In):
    name: str = Field(pattern=NAME, max_length=64)


class SnapshotOut(BaseModel):
    name: str
    size_gb: int
    created_at: dt.datetime


class DiskOut(BaseModel):
    id: str
    name: str
    format: str
    size_gb: int
    size_bytes: int
    status: str
    operation: str | None
    progress_percent: float
    error: str | None
    warning: str | None
    instance_id: str | None = Field(None, description="the VM it is attached to (seen from the VM's next boot)")
    created_at: dt.datetime
    updated_at: dt.datetime
