"""``cumulo cache ...``: managed Redis caches."""

from __future__ import annotations

import os
import shutil
import subprocess

import typer

from cumulo.cli import output
from cumulo.cli.databases import JSON, as_json

COLUMNS = ["id", "name", "version", "status", "memory_mb", "persistence", "endpoint", "public_endpoint"]


def register(app: typer.Typer) -> None:
    cache = typer.Typer(help="Managed caches: Redis, always with a password", no_args_is_help=True)
    app.add_typer(cache, name="cache")

    @cache.command("create")
    @output.handle_errors
    def create(name: str, memory: int = typer.Option(64, "--memory", help="maxmemory in MB"),
               eviction: str = typer.Option("allkeys-lru", "--eviction-policy"),
               persistence: str = typer.Option("aof", help="none, rdb or aof"),
               vpc: str | None = typer.Option(None, "--vpc"), public: bool = typer.Option(False, "--public"),
               json_out: bool = JSON) -> None:
        """Create a cache; answers once it accepts connections, with the password (once)."""
        as_json(json_out)
        with output.client() as c, output.console.status(f"creating cache {name}..."):
            answer = c.caches.create(name, memory, eviction_policy=eviction, persistence=persistence, vpc_id=vpc,
                                     public=public)
        output.show(answer)
        if not output.STATE["json"]:
            output.err_console.print(f"[bold yellow]the password is shown once[/]; it is kept in the secret "
                                     f"{answer['credentials_secret']}")

    @cache.command("list")
    @output.handle_errors
    def list_(json_out: bool = JSON) -> None:
        """List your caches."""
        as_json(json_out)
        with output.client() as c:
            output.show(c.caches.list(), COLUMNS)

    @cache.command("show")
    @output.handle_errors
    def show(name: str, json_out: bool = JSON) -> None:
        """Show a cache (id or name)."""
        as_json(json_out)
        with output.client() as c:
            output.show(c.caches.get(name))

    @cache.command("stats")
    @output.handle_errors
    def stats(name: str, json_out: bool = JSON) -> None:
        """Memory, keys, hits, misses, evictions, clients (from INFO)."""
        as_json(json_out)
        with output.client() as c:
            output.show(c.caches.stats(name))

    @cache.command("metrics")
    @output.handle_errors
    def metrics(name: str, since: str | None = typer.Option(None, "--since", help="ISO time (default: the last hour)"), json_out: bool = JSON) -> None:
        """The recorded CPU and memory of the cache's server."""
        as_json(json_out)
        with output.client() as c:
            output.show_series(c.caches.metrics(name, since))

    @cache.command("connect")
    @output.handle_errors
    def connect(name: str) -> None:
        """Open redis-cli on the cache as its user (the password goes in REDISCLI_AUTH, never printed)."""
        with output.client() as c:
            info = c.caches.get(name)
            password = c.secrets.value(info["credentials_secret"])
        ep = info.get("public_endpoint") or info.get("endpoint")
        if not ep:
            raise typer.BadParameter(f"cache {name} has no endpoint (status {info['status']})")
        if shutil.which("redis-cli") is None:
            raise typer.BadParameter("redis-cli is not installed here")
        argv = ["redis-cli", "--no-auth-warning", "-h", ep["host"], "-p", str(ep["port"]), "--user", info["username"]]
        raise typer.Exit(subprocess.call(argv, env={**os.environ, "REDISCLI_AUTH": password}))

    @cache.command("rotate-password")
    @output.handle_errors
    def rotate(name: str, json_out: bool = JSON) -> None:
        """Set a new password (shown once, stored as the secret's new version)."""
        as_json(json_out)
        with output.client() as c:
            output.show(c.caches.rotate_password(name))

    @cache.command("flush")
    @output.handle_errors
    def flush(name: str, yes: bool = output.YES, json_out: bool = JSON) -> None:
        """Delete every key (FLUSHALL)."""
        as_json(json_out)
        output.confirm(f"Delete every key of cache {name}?", yes)
        with output.client() as c:
            output.show(c.caches.flush(name))

    for verb, helptext in (("stop", "Stop a cache (its keys stay on its volume; not billed while stopped)."),
                           ("start", "Start a stopped cache; answers once it accepts connections."),
                           ("reboot", "Restart a cache's server (its keys stay, unless its persistence is none).")):
        def lifecycle(name: str, json_out: bool = JSON, _verb: str = verb) -> None:
            as_json(json_out)
            with output.client() as c, output.console.status(f"{_verb} cache {name}..."):
                output.show(getattr(c.caches, _verb)(name))
        lifecycle.__doc__ = helptext
        cache.command(verb)(output.handle_errors(lifecycle))

    @cache.command("delete")
    @output.handle_errors
    def delete(name: str, yes: bool = output.YES, json_out: bool = JSON) -> None:
        """Delete a cache and its data."""
        as_json(json_out)
        output.confirm(f"Delete cache {name} and its data?", yes)
        with output.client() as c, output.console.status(f"deleting cache {name}..."):
            c.caches.delete(name)
        output.show({"deleted": name} if output.STATE["json"] else f"deleted {name}")
