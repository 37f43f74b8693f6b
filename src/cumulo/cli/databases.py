"""``cumulo db ...``: managed PostgreSQL and MariaDB databases, their backups and restores."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from typing import Any

import typer

from cumulo.cli import output

COLUMNS = ["id", "name", "engine_product", "version", "status", "storage_gb", "endpoint", "public_endpoint",
           "created_at"]
BACKUP_COLUMNS = ["id", "kind", "status", "bytes", "key", "created_at"]
JSON = typer.Option(False, "--json", help="Print JSON for scripts")


def as_json(flag: bool) -> None:
    if flag:
        output.STATE["json"] = True


def _password_once(answer: dict[str, Any]) -> None:
    output.show(answer)
    if not output.STATE["json"]:
        output.err_console.print(f"[bold yellow]the password is shown once[/]; it is kept in the secret "
                                 f"{answer.get('credentials_secret')} (cumulo secrets get ... --value)")


def local_client(db: dict[str, Any], password: str) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) of the local client for ``db``: the password goes in the environment only."""
    ep = db.get("public_endpoint") or db.get("endpoint")
    if not ep:
        raise typer.BadParameter(f"database {db['name']} has no endpoint (status {db['status']})")
    env = dict(os.environ)
    if db["engine"] == "postgres":
        env["PGPASSWORD"] = password
        return ["psql", "-h", ep["host"], "-p", str(ep["port"]), "-U", db["username"], db["database"]], env
    env["MYSQL_PWD"] = password
    binary = "mariadb" if shutil.which("mariadb") else "mysql"
    return [binary, "-h", ep["host"], "-P", str(ep["port"]), "-u", db["username"], db["database"]], env


def _bucket_key(source: str) -> dict[str, str]:
    bucket, _, key = source.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise typer.BadParameter(f"expected <bucket>/<key>, got {source!r}")
    return {"bucket": bucket, "key": key}


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Managed databases: PostgreSQL and MariaDB (engine mysql), with backups",
                     no_args_is_help=True)
    app.add_typer(db, name="db")

    @db.command("create")
    @output.handle_errors
    def create(name: str, engine: str = typer.Option("postgres", help="postgres or mysql (MariaDB)"),
               version: str | None = typer.Option(None, help="default: the newest in the catalogue"),
               cpus: float = typer.Option(1.0), memory: int = typer.Option(512, "--memory", help="MB"),
               storage: int = typer.Option(1, "--storage", help="GiB"), vpc: str | None = typer.Option(None, "--vpc"),
               public: bool = typer.Option(False, "--public", help="publish a host port"),
               retention: int = typer.Option(7, "--backup-retention", help="days (1-35)"),
               param: list[str] = typer.Option([], "--param", help="NAME=VALUE, e.g. max_connections=200"),
               from_dump: str | None = typer.Option(None, "--from-dump", help="<bucket>/<key> of a dump you "
                                                    "uploaded: the new database starts with its data"),
               json_out: bool = JSON) -> None:
        """Create a database; answers once it accepts connections, with the password (once)."""
        as_json(json_out)
        extra: dict[str, Any] = {}
        if from_dump is not None:
            extra["import_from"] = _bucket_key(from_dump)
        params = {}
        for item in param:
            key, _, value = item.partition("=")
            try:
                params[key] = int(value)
            except ValueError:
                raise typer.BadParameter(f"--param {item}: the value must be an integer") from None
        with output.client() as c, output.console.status(f"creating {engine} database {name}..."):
            answer = c.databases.create(name, engine, version=version, cpus=cpus, memory_mb=memory,
                                        storage_gb=storage, vpc_id=vpc, public=public,
                                        backup_retention_days=retention, parameters=params, **extra)
        _password_once(answer)

    @db.command("list")
    @output.handle_errors
    def list_(json_out: bool = JSON) -> None:
        """List your databases."""
        as_json(json_out)
        with output.client() as c:
            output.show(c.databases.list(), COLUMNS)

    @db.command("show")
    @output.handle_errors
    def show(database: str, json_out: bool = JSON) -> None:
        """Show a database (id or name)."""
        as_json(json_out)
        with output.client() as c:
            output.show(c.databases.get(database))

    @db.command("connect")
    @output.handle_errors
    def connect(database: str) -> None:
        """Open psql / mariadb on the database with its credentials (never printed)."""
        with output.client() as c:
            info = c.databases.get(database)
            password = c.secrets.value(info["credentials_secret"])
        argv, env = local_client(info, password)
        if shutil.which(argv[0]) is None:
            raise typer.BadParameter(f"{argv[0]} is not installed here; install it, or read the password with "
                                     f"cumulo secrets get {info['credentials_secret']}")
        raise typer.Exit(subprocess.call(argv, env=env))

    for verb, helptext in (("stop", "Stop a database (its data stays)."), ("start", "Start a stopped database."),
                           ("reboot", "Restart a database's server.")):
        def lifecycle(database: str, json_out: bool = JSON, _verb: str = verb) -> None:
            as_json(json_out)
            with output.client() as c, output.console.status(f"{_verb} {database}..."):
                output.show(getattr(c.databases, _verb)(database))
        lifecycle.__doc__ = helptext
        db.command(verb)(output.handle_errors(lifecycle))

    @db.command("metrics")
    @output.handle_errors
    def metrics(database: str, series: bool = typer.Option(False, "--series", help="the recorded CPU and memory "
                                                                                   "of its server instead"),
                since: str | None = typer.Option(None, "--since", help="ISO time (default: the last hour)"), json_out: bool = JSON) -> None:
        """The engine's figures now (connections, size, transactions...), or with --series the server's CPU/memory."""
        as_json(json_out)
        with output.client() as c:
            if series:
                output.show_series(c.databases.metrics_series(database, since))
            else:
                output.show(c.databases.metrics(database))

    @db.command("resize")
    @output.handle_errors
    def resize(database: str, cpus: float | None = typer.Option(None), memory: int | None = typer.Option(None, "--memory"),
               json_out: bool = JSON) -> None:
        """Change cpus / memory (MB); the server restarts with its data."""
        as_json(json_out)
        fields = {k: v for k, v in {"cpus": cpus, "memory_mb": memory}.items() if v is not None}
        with output.client() as c:
            output.show(c.databases.update(database, **fields))

    @db.command("rotate-password")
    @output.handle_errors
    def rotate(database: str, json_out: bool = JSON) -> None:
        """Set a new master password (shown once, stored as the secret's new version)."""
        as_json(json_out)
        with output.client() as c:
            output.show(c.databases.rotate_password(database))

    @db.command("backup")
    @output.handle_errors
    def backup(database: str, json_out: bool = JSON) -> None:
        """Take a backup now (into your backup bucket)."""
        as_json(json_out)
        with output.client() as c, output.console.status(f"backing up {database}..."):
            output.show(c.databases.backup(database))

    @db.command("backups")
    @output.handle_errors
    def backups(database: str, json_out: bool = JSON) -> None:
        """List a database's backups (a deleted database's too, by its id)."""
        as_json(json_out)
        with output.client() as c:
            output.show(c.databases.backups(database), BACKUP_COLUMNS)

    @db.command("delete-backup")
    @output.handle_errors
    def delete_backup(database: str, backup_id: str, yes: bool = output.YES, json_out: bool = JSON) -> None:
        """Delete one backup of a database (its file in your backup bucket too)."""
        as_json(json_out)
        output.confirm(f"Delete backup {backup_id} of {database}?", yes)
        with output.client() as c:
            c.databases.delete_backup(database, backup_id)
        output.show({"deleted": backup_id} if output.STATE["json"] else f"deleted backup {backup_id}")

    @db.command("import")
    @output.handle_errors
    def import_(database: str, source: str = typer.Argument(..., help="<bucket>/<key> of a dump you uploaded "
                                                            "(pg_dump custom or plain SQL; SQL for MariaDB)"),
                json_out: bool = JSON) -> None:
        """Load a dump from one of your buckets into a database."""
        as_json(json_out)
        where = _bucket_key(source)
        with output.client() as c, output.console.status(f"importing {source} into {database}..."):
            output.show(c.databases.import_dump(database, where["bucket"], where["key"]), COLUMNS)

    @db.command("restore")
    @output.handle_errors
    def restore(database: str, backup_id: str | None = typer.Option(None, "--backup", help="a backup id"),
                restore_time: str | None = typer.Option(
                    None, "--time", help="PostgreSQL point-in-time: e.g. 2026-12-02T10:00:00Z (UTC without an "
                    "offset), within the retention window"),
                name: str = typer.Option(..., "--name", help="the new database"),
                public: bool = typer.Option(False, "--public"), vpc: str | None = typer.Option(None, "--vpc"),
                json_out: bool = JSON) -> None:
        """Restore a backup (--backup) or a point in time (--time) into a NEW database."""
        as_json(json_out)
        if (backup_id is None) == (restore_time is None):
            raise typer.BadParameter("give either --backup ID or --time TIME")
        if restore_time is not None:
            try:
                dt.datetime.fromisoformat(restore_time)
            except ValueError:
                raise typer.BadParameter(f"--time {restore_time}: not an ISO 8601 time such as "
                                         "2026-12-02T10:00:00Z") from None
        with output.client() as c, output.console.status(f"restoring into {name}..."):
            answer = c.databases.restore(database, backup_id, name, public=public, restore_time=restore_time,
                                         vpc_id=vpc)
        _password_once(answer)

    @db.command("logs")
    @output.handle_errors
    def logs(database: str, tail: int = typer.Option(200)) -> None:
        """The server's recent log."""
        with output.client() as c:
            typer.echo(c.databases.logs(database, tail))

    @db.command("delete")
    @output.handle_errors
    def delete(database: str, skip_final_backup: bool = typer.Option(False, "--skip-final-backup"),
               yes: bool = output.YES, json_out: bool = JSON) -> None:
        """Delete a database (a final backup is taken first unless --skip-final-backup)."""
        as_json(json_out)
        output.confirm(f"Delete database {database}?", yes)
        with output.client() as c, output.console.status(f"deleting {database}..."):
            c.databases.delete(database, skip_final_backup=skip_final_backup)
        output.show({"deleted": database, "final_backup": not skip_final_backup} if output.STATE["json"]
                    else f"deleted {database}")
