"""VPC and subnet request/response models, and the attachment handed to the compute service."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_PREFIX, MAX_PREFIX = 16, 28  # VPCs and subnets: /16 (65,536 addresses) down to /28 (16)
PRIVATE = [ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def check_name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError("name must be 1-64 characters: letters, digits, '.', '-' or '_', starting with a "
                         "letter or digit")
    return value


def parse_cidr(value: str, *, min_prefix: int = MIN_PREFIX) -> ipaddress.IPv4Network:
    """A private IPv4 block such as ``10.0.1.0/24`` whose host bits are zero."""
    try:
        net = ipaddress.ip_network(value.strip(), strict=True)
    except ValueError as exc:
        raise ValueError(f"cidr_block {value!r} is not a valid IPv4 network (e.g. 10.0.1.0/24, host bits zero): "
                         f"{exc}") from None
    if not isinstance(net, ipaddress.IPv4Network) or "/" not in value:
        raise ValueError("cidr_block must be an IPv4 network written with a prefix, e.g. 10.0.1.0/24")
    if not min_prefix <= net.prefixlen <= MAX_PREFIX:
        raise ValueError(f"cidr_block prefix must be between /{min_prefix} and /{MAX_PREFIX}")
    if not any(net.subnet_of(p) for p in PRIVATE):
        raise ValueError("cidr_block must be inside a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")
    return net


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VpcCreate(In):
    name: str = Field(max_length=64)
    cidr_block: str | None = Field(None, max_length=18, description="default: a free block of CUMULO_VPC_POOL")

    _name = field_validator("name")(check_name)

    @field_validator("cidr_block")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        return None if value is None else str(parse_cidr(value))


class SubnetCreate(In):
    name: str = Field(max_length=64)
    cidr_block: str = Field(max_length=18)
    availability_zone: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")

    _name = field_validator("name")(check_name)

    @field_validator("cidr_block")
    @classmethod
    def _cidr(cls, value: str) -> str:
        return str(parse_cidr(value))


class VpcOut(BaseModel):
    id: str
    name: str
    cidr_block: str
    network_name: str
    subnet_count: int
    is_default: bool = Field(False, description="the user's default VPC: instances launched without vpc_id or "
                                                "subnet_id join it")
    created_at: dt.datetime


class SubnetOut(BaseModel):
    id: str
    vpc_id: str
    name: str
    cidr_block: str
    availability_zone: str
    gateway_ip: str = Field(description="the router instances of this subnet really use (the VPC's gateway)")
    broadcast_ip: str
    available_ip_count: int
    created_at: dt.datetime


@dataclass(frozen=True)
class NetworkAttachment:
    """Where an instance's container joins: ``network_name`` None means Docker's default bridge;
    ``ipv4_address`` None means "let Docker pick" (no subnet)."""

    network_name: str | None
    ipv4_address: str | None
    vpc_id: str | None
    subnet_id: str | None
