"""Instance request and response models (seed: Compute Instances; Cloud OS password and ttl)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cumulo.drivers.compute.base import PortBinding

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_PORTS = 10
MAX_TTL = 30 * 24 * 3600
Status = Literal["PENDING", "STARTING", "RUNNING", "STOPPING", "STOPPED", "REBOOTING", "PAUSED", "ERROR"]


def parse_ports(value: str | None) -> list[PortBinding]:
    """``"80:80,0:8080"`` -> bindings. Host 0 = any free port. At most 10, no duplicate host port."""
    if value is None or not value.strip():
        return []
    items = [p.strip() for p in value.split(",")]
    if len(items) > MAX_PORTS:
        raise ValueError(f"at most {MAX_PORTS} port mappings")
    bindings: list[PortBinding] = []
    for item in items:
        host, sep, container = item.partition(":")
        if not sep or not host.isdigit() or not container.isdigit() or len(host) > 5 or len(container) > 5:
            raise ValueError(f"port mapping {item!r} must look like HOST:CONTAINER, e.g. 8080:80 or 0:80")
        h, c = int(host), int(container)
        if not 0 <= h <= 65535 or not 1 <= c <= 65535:
            raise ValueError(f"port mapping {item!r}: host port 0-65535 (0 = any free port), container port 1-65535")
        bindings.append(PortBinding(h, c))
    fixed = [b.host for b in bindings if b.host]
    if len(fixed) != len(set(fixed)):
        raise ValueError("the same host port appears twice")
    if len({(b.host, b.container) for b in bindings if b.host == 0}) != len([b for b in bindings if b.host == 0]):
        raise ValueError("the same container port is mapped to host port 0 twice")
    return bindings


def format_ports(bindings: list[PortBinding]) -> str:
    return ",".join(str(b) for b in bindings)


def check_name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("name must be 1-63 characters: letters, digits, '-', '_' or '.', starting with a letter "
                         "or digit")
    return value


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VolumeSpec(In):
    volume_id: str = Field(min_length=1, max_length=80)
    mount_path: str = Field(min_length=2, max_length=255, pattern=r"^/")


class InstanceCreate(In):
    name: str = Field(max_length=63)
    image: str = Field(min_length=1, max_length=255)
    vpc_id: str | None = Field(None, max_length=80)
    subnet_id: str | None = Field(None, max_length=80)
    ports: str | None = Field(None, max_length=200, description='"HOST:CONTAINER" comma separated, e.g. "0:80"')
    volumes: list[VolumeSpec] = Field(default_factory=list, max_length=10)
    env: dict[str, str] = Field(default_factory=dict, max_length=100)
    env_secrets: dict[str, str] = Field(default_factory=dict, max_length=100,
                                        description="{ENV_VAR: secret name}: injected from the Secrets Manager")
    command: list[str] | None = Field(None, max_length=100)
    cpus: float | None = Field(None, gt=0, le=64)
    memory_mb: int | None = Field(None, ge=16, le=262144)
    password: str | None = Field(None, min_length=1, max_length=128)
    ttl_seconds: int | None = Field(None, ge=1, le=MAX_TTL)
    backend: Literal["container", "vm"] = Field("container", description="container (Docker) or vm (QEMU)")
    key_name: str | None = Field(None, max_length=80, description="a VM's: key pair (/keypairs) whose public "
                                 "key goes into root's authorized_keys")
    user_data: str | None = Field(None, min_length=1, max_length=16384,
                                  description="a VM's: script run once, on its first boot, before the command")
    cdrom: str | None = Field(None, min_length=1, max_length=80, description="a VM of a disk image's: an ISO "
                              "disk of yours (uploaded or imported) in its CD-ROM drive, booted first")

    _name = field_validator("name")(check_name)

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: str | None) -> str | None:
        return format_ports(parse_ports(value)) if value is not None else None

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not ENV_KEY.match(key):
                raise ValueError(f"env name {key!r} must be letters, digits and '_' (not starting with a digit)")
            if key.startswith("CUMULO_"):
                raise ValueError(f"env name {key!r}: the CUMULO_ prefix is reserved")
            if len(item) > 8192 or "\0" in item:
                raise ValueError(f"env {key!r}: value too long or contains NUL")
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("command, when given, is a non-empty list of strings")
            if any(len(a) > 4096 or "\0" in a for a in value):
                raise ValueError("command arguments are at most 4096 characters, without NUL")
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: str | None) -> str | None:
        if value is not None and any(ch in value for ch in "\0\n\r:"):
            raise ValueError("password must not contain NUL, newlines or ':'")
        return value


class InstanceUpdate(In):
    """Rename and/or change the time to live (``ttl_seconds: null`` removes the limit; counted from now)."""

    name: str | None = Field(None, max_length=63)
    ttl_seconds: int | None = Field(None, ge=1, le=MAX_TTL)
    cdrom: str | None = Field(None, min_length=1, max_length=80, description="a VM's CD-ROM: an ISO disk for its "
                              "next boot, or null to eject (at once when it runs)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return check_name(value) if value is not None else None


class InstanceOut(BaseModel):
    id: str
    name: str
    image: str
    status: Status
    status_reason: str | None
    ports: str
    vpc_id: str | None
    subnet_id: str | None
    ip_address: str | None
    cpus: float
    memory_mb: int
    env: dict[str, str]
    env_secrets: dict[str, str] = Field(default_factory=dict, description="variable -> secret name (never values)")
    command: list[str] | None
    has_password: bool
    backend: str = "container"
    accelerator: str | None = Field(None, description="a VM's: kvm or tcg")
    cdrom: str | None = Field(None, description="a VM's: the ISO disk (id) in its CD-ROM drive")
    volumes: list[dict[str, str]] = Field(default_factory=list)
    expires_at: dt.datetime | None
    launched_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class StatsOut(BaseModel):
    instance_id: str
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int
    memory_percent: float
    pids: int
    net_rx_bytes: int
    net_tx_bytes: int
    cpu_time_seconds: float | None = Field(None, description="a VM's: CPU time of its QEMU process")
    disk_read_bytes: int | None = None
    disk_write_bytes: int | None = None
    disk_read_ops: int | None = None
    disk_write_ops: int | None = None
    time: dt.datetime
