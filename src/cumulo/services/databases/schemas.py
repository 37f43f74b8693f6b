"""Request and response models of /databases (the password appears only in ``DatabaseCreated``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME = r"^[a-z][a-z0-9-]{0,62}$"
IDENT = r"^[a-z][a-z0-9_]{0,30}$"
WINDOW = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"
RESERVED_USERS = {"root", "mysql", "postgres", "mariadb", "cumulo", "admin_probe", "public", "pg_monitor"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportIn(Strict):
    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)


class DatabaseCreate(Strict):
    name: str = Field(pattern=NAME, description="lower-case letters, digits and dashes (1-63)")
    engine: Literal["postgres", "mysql", "mariadb"] = "postgres"
    version: str | None = Field(None, max_length=16, description="engine version; default: the newest available")
    cpus: float = Field(1.0, ge=0.1, le=16)
    memory_mb: int = Field(512, ge=128, le=65536)
    storage_gb: int = Field(1, ge=1, le=16384)
    vpc_id: str | None = Field(None, max_length=80)
    public: bool = False
    database: str = Field("app", pattern=IDENT, description="the database created in the server")
    username: str = Field("master", pattern=IDENT, description="the master user")
    backup_retention_days: int = Field(7, ge=1, le=35)
    backup_window: str = Field("03:00-04:00", pattern=WINDOW, description="HH:MM-HH:MM (UTC), daily")
    parameters: dict[str, int] = Field(default_factory=dict, max_length=16)
    import_from: ImportIn | None = Field(None, description="a dump you uploaded to one of your buckets "
                                         "(pg_dump custom format or SQL; SQL for MariaDB): the new database "
                                         "starts with its data")


class DatabaseUpdate(Strict):
    cpus: float | None = Field(None, ge=0.1, le=16)
    memory_mb: int | None = Field(None, ge=128, le=65536)
    storage_gb: int | None = Field(None, ge=1, le=16384)
    backup_retention_days: int | None = Field(None, ge=1, le=35)
    backup_window: str | None = Field(None, pattern=WINDOW)
    parameters: dict[str, int] | None = Field(None, max_length=16)


class DeleteIn(Strict):
    skip_final_backup: bool = False


class Endpoint(BaseModel):
    host: str
    port: int


class DatabaseOut(BaseModel):
    id: str
    name: str
    engine: str
    engine_product: str
    version: str
    status: str
    cpus: float
    memory_mb: int
    storage_gb: int
    storage_size_enforced: bool
    database: str
    username: str
    credentials_secret: str = Field(description="name of the Secrets Manager secret holding the password")
    endpoint: Endpoint | None
    public_endpoint: Endpoint | None
    vpc_id: str | None
    public: bool
    parameters: dict[str, int]
    backup_retention_days: int
    backup_window: str
    last_backup_at: dt.datetime | None
    restored_from: str | None
    error: str | None
    created_at: dt.datetime


class DatabaseCreated(DatabaseOut):
    password: str = Field(description="the master password: shown once, kept in credentials_secret")


class RotatedOut(BaseModel):
    id: str
    username: str
    password: str
    credentials_secret: str


class BackupOut(BaseModel):
    id: str
    database_id: str
    database_name: str
    engine: str
    version: str
    kind: str
    status: str
    bucket: str
    key: str
    bytes: int
    expires_at: dt.datetime | None
    error: str | None
    created_at: dt.datetime


class RestoreIn(Strict):
    backup_id: str | None = Field(None, max_length=80, description="a backup to restore (or restore_time)")
    restore_time: dt.datetime | None = Field(None, description="PostgreSQL: recover to this time (UTC when "
                                             "no offset is given) within the retention window")
    name: str = Field(pattern=NAME, description="name of the new database")
    public: bool | None = None
    vpc_id: str | None = Field(None, max_length=80)

    @model_validator(mode="after")
    def _one_source(self) -> RestoreIn:
        if (self.backup_id is None) == (self.restore_time is None):
            raise ValueError("give either backup_id or restore_time")
        return self
