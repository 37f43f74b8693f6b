"""Managed database routes (``/databases``); ``{database}`` is an id or a name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import PlainTextResponse

from cumulo.api.deps import PlatformDep, SessionDep, UserDep
from cumulo.services.databases import backups, pitr, service
from cumulo.services.databases.schemas import (
    BackupOut,
    DatabaseCreate,
    DatabaseCreated,
    DatabaseOut,
    DatabaseUpdate,
    DeleteIn,
    ImportIn,
    RestoreIn,
    RotatedOut,
)

router = APIRouter(tags=["databases"])


@router.post("/databases", status_code=201, response_model=DatabaseCreated)
async def create_database(body: DatabaseCreate, user: UserDep, platform: PlatformDep,
                          session: SessionDep) -> DatabaseCreated:
    if body.import_from is not None:
        db, password = await backups.create_from_dump(platform, session, user, body)
    else:
        db, password = await service.create(platform, session, user, body)
    return DatabaseCreated(**service.database_out(platform, db).model_dump(), password=password)


@router.get("/databases", response_model=list[DatabaseOut])
async def list_databases(user: UserDep, platform: PlatformDep, session: SessionDep) -> list[DatabaseOut]:
    return [service.database_out(platform, d) for d in await service.list_databases(session, user)]


@router.get("/databases/{database}", response_model=DatabaseOut)
async def get_database(database: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> DatabaseOut:
    return service.database_out(platform, await service.resolve(session, user, database))


@router.put("/databases/{database}", response_model=DatabaseOut)
async def update_database(database: str, body: DatabaseUpdate, user: UserDep, platform: PlatformDep,
                          session: SessionDep) -> DatabaseOut:
    return service.database_out(platform, await service.update(platform, session, user, database, body))


@router.delete("/databases/{database}", status_code=204)
async def delete_database(database: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                          skip_final_backup: bool = Query(False), body: DeleteIn | None = None) -> Response:
    skip = skip_final_backup or bool(body and body.skip_final_backup)
    await service.delete(platform, session, user, database, skip)
    return Response(status_code=204)


@router.post("/databases/{database}/stop", response_model=DatabaseOut)
async def stop_database(database: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> DatabaseOut:
    return service.database_out(platform, await service.stop(platform, session, user, database))


@router.post("/databases/{database}/start", response_model=DatabaseOut)
async def start_database(database: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> DatabaseOut:
    return service.database_out(platform, await service.start(platform, session, user, database))


@router.post("/databases/{database}/reboot", response_model=DatabaseOut)
async def reboot_database(database: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> DatabaseOut:
    return service.database_out(platform, await service.reboot(platform, session, user, database))


@router.post("/databases/{database}/credentials/rotate", response_model=RotatedOut)
async def rotate_credentials(database: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> RotatedOut:
    db, password = await service.rotate(platform, session, user, database)
    return RotatedOut(id=db.id, username=db.username, password=password, credentials_secret=db.secret_name)


@router.get("/databases/{database}/logs", response_class=PlainTextResponse)
async def database_logs(database: str, user: UserDep, platform: PlatformDep, session: SessionDep,
                        tail: int = Query(200, ge=1, le=10000)) -> str:
    return await service.logs(platform, session, user, database, tail)


@router.get("/databases/{database}/metrics")
async def database_metrics(database: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> dict[str, Any]:
    return await service.metrics(platform, session, user, database)


@router.post("/databases/{database}/backups", status_code=201, response_model=BackupOut)
async def create_backup(database: str, user: UserDep, platform: PlatformDep, session: SessionDep) -> BackupOut:
    return backups.backup_out(await backups.create(platform, session, user, database))


@router.get("/databases/{database}/backups", response_model=list[BackupOut])
async def list_backups(database: str, user: UserDep, session: SessionDep) -> list[BackupOut]:
    return [backups.backup_out(b) for b in await backups.list_backups(session, user, database)]


@router.delete("/databases/{database}/backups/{backup_id}", status_code=204)
async def delete_backup(database: str, backup_id: str, user: UserDep, platform: PlatformDep,
                        session: SessionDep) -> Response:
    await backups.delete_backup(platform, session, user, database, backup_id)
    return Response(status_code=204)


@router.post("/databases/{database}/restore", status_code=201, response_model=DatabaseCreated)
async def restore_database(database: str, body: RestoreIn, user: UserDep, platform: PlatformDep,
                           session: SessionDep) -> DatabaseCreated:
    if body.restore_time is not None:
        db, password = await pitr.restore_to_time(platform, session, user, database, body.name, body.restore_time,
                                                  body.public, body.vpc_id)
    else:
        db, password = await backups.restore(platform, session, user, database, body)
    return DatabaseCreated(**service.database_out(platform, db).model_dump(), password=password)


@router.post("/databases/{database}/import", response_model=DatabaseOut)
async def import_dump(database: str, body: ImportIn, user: UserDep, platform: PlatformDep,
                      session: SessionDep) -> DatabaseOut:
    return service.database_out(platform, await backups.import_dump(platform, session, user, database, body.bucket,
                                                                    body.key))
