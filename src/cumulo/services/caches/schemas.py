"""Request and response models of /caches (the password appears only in ``CacheCreated``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cumulo.services.databases.schemas import IDENT, NAME, Endpoint

EVICTION = Literal["noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu",
                   "volatile-random", "volatile-ttl"]


class CacheCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME, description="lower-case letters, digits and dashes (1-63)")
    version: str | None = Field(None, max_length=16, description="Redis version; default: the newest available")
    memory_mb: int = Field(ge=16, le=65536, description="maxmemory of the server (the container gets 25% more)")
    cpus: float = Field(0.5, ge=0.1, le=8)
    eviction_policy: EVICTION = "allkeys-lru"
    persistence: Literal["none", "rdb", "aof"] = Field("aof", description="aof: appendonly yes, everysec")
    username: str = Field("app", pattern=IDENT, description="the ACL user of the generated password")
    vpc_id: str | None = Field(None, max_length=80)
    public: bool = False


class CacheOut(BaseModel):
    id: str
    name: str
    engine: str = "redis"
    version: str
    status: str
    memory_mb: int
    cpus: float
    eviction_policy: str
    persistence: str
    username: str
    credentials_secret: str
    endpoint: Endpoint | None
    public_endpoint: Endpoint | None
    vpc_id: str | None
    public: bool
    error: str | None
    created_at: dt.datetime


class CacheCreated(CacheOut):
    password: str = Field(description="the ACL user's password: shown once, kept in credentials_secret")


class CacheStats(BaseModel):
    used_memory: int
    maxmemory: int
    keys: int
    hits: int
    misses: int
    evictions: int
    connected_clients: int
    uptime_seconds: int
