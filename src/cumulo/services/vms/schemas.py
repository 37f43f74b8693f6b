"""VirtCloud's request bodies (extra fields ignored, as its clients send them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class VmRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    vm_id: str = Field(min_length=1, max_length=80)


class DiskNew(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=64)
    size: str | int = Field(description="GiB: 10 or '10G'")
    format: str = "qcow2"


class DiskName(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=70)


class DiskGrow(DiskName):
    resize_by: str = Field(min_length=1, max_length=12, description="'+5G' grows by 5 GiB, '20G' sets 20 GiB")


class DiskRetype(BaseModel):
    model_config = ConfigDict(extra="ignore")
    source_name: str = Field(min_length=1, max_length=70)
    target_format: str = Field(min_length=1, max_length=8)


class DiskRename(BaseModel):
    model_config = ConfigDict(extra="ignore")
    current_name: str = Field(min_length=1, max_length=70)
    new_name: str = Field(min_length=1, max_length=70)
