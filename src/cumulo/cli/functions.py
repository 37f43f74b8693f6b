"""``cumulo functions ...``: deploy a folder, invoke, read and follow logs, async invocations, queue event sources."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer

from cumulo.cli import output

COLUMNS = ["id", "name", "runtime", "handler", "version", "memory_mb", "timeout_seconds", "warm_containers"]
INVOCATION_COLUMNS = ["id", "version", "status", "is_async", "source", "duration_ms", "attempts", "created_at"]
SOURCE_COLUMNS = ["id", "queue_id", "batch_size", "enabled", "created_at"]


def _mapping(pairs: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{what} must look like NAME=VALUE, got {pair!r}")
        out[key] = value
    return out


def _print_log(entry: dict[str, Any]) -> None:
    output.console.print(f"[bold]{entry['ended_at'] or entry['created_at']}[/] {entry['invocation_id'][:8]} "
                         f"v{entry['version']} {entry['status']} {entry['duration_ms'] or 0:.1f} ms")
    if entry["logs"]:
        sys.stdout.write(entry["logs"] if entry["logs"].endswith("\n") else entry["logs"] + "\n")
    if entry.get("error"):
        output.err_console.print(f"[red]{entry['error']['type']}:[/] {entry['error']['message']}")


def register(app: typer.Typer) -> None:
    fns = typer.Typer(help="Cloud Functions: deploy, invoke, logs", no_args_is_help=True)
    app.add_typer(fns, name="functions")
    sources = typer.Typer(help="Queues that invoke a function with batches of their messages", no_args_is_help=True)
    fns.add_typer(sources, name="event-sources")

    @fns.command("deploy")
    @output.handle_errors
    def deploy(directory: Path = typer.Argument(..., exists=True, file_okay=False, help="folder with the code"),
               name: str | None = typer.Option(None, "--name", help="default: the folder's name"),
               runtime: str | None = typer.Option(None, "--runtime",
                                           help="e.g. python, nodejs, python3.11 (needed to create; a redeploy keeps it)"),
               handler: str | None = typer.Option(None, "--handler", help="module.function / file.export"),
               timeout: int | None = typer.Option(None, "--timeout"), memory: int | None = typer.Option(None, "--memory"),
               max_concurrency: int | None = typer.Option(None, "--max-concurrency"),
               env: list[str] = typer.Option([], "--env", help="NAME=VALUE (repeatable)"),
               secret: list[str] = typer.Option([], "--secret", help="VAR=secret-name (repeatable)"),
               vpc: str | None = typer.Option(None, "--vpc", help="VPC id: the function reaches that VPC's instances"),
               dead_letter_queue: str | None = typer.Option(None, "--dead-letter-queue",
                                                     help="queue (id or name) for async calls that failed")) -> None:
        """Zip DIRECTORY and create the function, or publish a new version if it exists."""
        from cumulo.client import ApiError
        from cumulo.client.functions import zip_dir

        name = name or directory.resolve().name
        config: dict[str, Any] = {k: v for k, v in {
            "handler": handler, "timeout_seconds": timeout, "memory_mb": memory, "max_concurrency": max_concurrency,
            "env": _mapping(env, "--env") or None, "env_secrets": _mapping(secret, "--secret") or None,
            "vpc_id": vpc, "dead_letter_queue": dead_letter_queue}.items() if v is not None}
        with output.console.status(f"zipping {directory} and deploying {name}..."):
            code = zip_dir(directory)
            with output.client() as c:
                try:
                    c.functions.get(name)
                except ApiError as exc:
                    if exc.status != 404:
                        raise
                    if not runtime:
                        output.err_console.print(f"error: {name} is new: say its --runtime (see "
                                                 "`cumulo functions runtimes`)")
                        raise typer.Exit(2) from None
                    result = c.functions.create(name, runtime, code, **config)
                else:
                    extra = {"runtime": runtime} if runtime else {}
                    result = c.functions.update(name, code=code, **extra, **config)
        output.show(result)

    @fns.command("list")
    @output.handle_errors
    def list_() -> None:
        """List functions."""
        with output.client() as c:
            output.show(c.functions.list(), COLUMNS)

    @fns.command("get")
    @output.handle_errors
    def get(ref: str) -> None:
        with output.client() as c:
            output.show(c.functions.get(ref))

    @fns.command("runtimes")
    @output.handle_errors
    def runtimes() -> None:
        """Runtimes available on this server."""
        with output.client() as c:
            output.show(c.functions.runtimes(), ["name", "language", "version", "image"])

    @fns.command("delete")
    @output.handle_errors
    def delete(ref: str, yes: bool = output.YES) -> None:
        """Delete a function, its versions and its invocation history."""
        output.confirm(f"Delete function {ref} with its versions and history?", yes)
        with output.client() as c:
            c.functions.delete(ref)
        output.console.print(f"deleted {ref}")

    @fns.command("invoke")
    @output.handle_errors
    def invoke(ref: str, payload: str = typer.Argument("null", help="JSON event ('-' reads stdin)"),
               is_async: bool = typer.Option(False, "--async", help="queue the call and print its id")) -> None:
        """Invoke a function: prints the result (or error) and its logs."""
        text = sys.stdin.read() if payload == "-" else payload
        try:
            event = json.loads(text)
        except ValueError:
            raise typer.BadParameter("payload must be JSON") from None
        with output.client() as c:
            result = c.functions.invoke(ref, event, is_async=is_async)
        if output.STATE["json"] or is_async:
            output.show(result)
            return
        if result["logs_tail"]:
            output.err_console.print(result["logs_tail"].rstrip("\n"), style="dim")
        if result["status"] == "SUCCESS":
            sys.stdout.write(json.dumps(result["result"], indent=2) + "\n")
        else:
            err = result["error"] or {}
            output.err_console.print(f"[red]{err.get('type')}:[/] {err.get('message')}")
            for line in err.get("stack") or []:
                output.err_console.print(line.rstrip("\n"), style="dim")
            raise typer.Exit(1)

    @fns.command("logs")
    @output.handle_errors
    def logs(ref: str, limit: int = typer.Option(20, "--limit"),
             follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new invocations")) -> None:
        """Latest invocations with their stdout/stderr."""
        with output.client() as c:
            entries = list(reversed(c.functions.logs(ref, limit=limit)))
            for entry in entries:
                _print_log(entry)
            since = max((e["ended_at"] for e in entries if e["ended_at"]), default=None)
            while follow:
                time.sleep(1.0)
                for entry in c.functions.logs(ref, limit=100, since=since or "1970-01-01T00:00:00Z"):
                    _print_log(entry)
                    since = entry["ended_at"] or since

    @fns.command("invocations")
    @output.handle_errors
    def invocations(ref: str, limit: int = typer.Option(50, "--limit")) -> None:
        """A function's latest invocations (sync, async, cron, queue), newest first."""
        with output.client() as c:
            output.show(c.functions.invocations(ref, limit=limit), INVOCATION_COLUMNS)

    @fns.command("invocation")
    @output.handle_errors
    def invocation(ref: str, invocation_id: str = typer.Argument(..., help="the id `invoke --async` printed")) -> None:
        """One invocation: its status, result or error, and its logs (follow an --async call with it)."""
        with output.client() as c:
            output.show(c.functions.invocation(ref, invocation_id))

    @sources.command("add")
    @output.handle_errors
    def add_source(ref: str, queue: str = typer.Argument(..., help="queue id or name"),
                   batch_size: int = typer.Option(10, "--batch-size", help="messages per invocation (1-10)")) -> None:
        """Invoke the function with the queue's messages; a message is deleted once its batch succeeded."""
        with output.client() as c:
            output.show(c.functions.add_event_source(ref, queue, batch_size))

    @sources.command("list")
    @output.handle_errors
    def list_sources(ref: str) -> None:
        """The queues that invoke a function."""
        with output.client() as c:
            output.show(c.functions.event_sources(ref), SOURCE_COLUMNS)

    @sources.command("show")
    @output.handle_errors
    def show_source(ref: str, source_id: str) -> None:
        """One event source."""
        with output.client() as c:
            output.show(c.functions.event_source(ref, source_id))

    @sources.command("delete")
    @output.handle_errors
    def delete_source(ref: str, source_id: str, yes: bool = output.YES) -> None:
        """Stop invoking the function from that queue (the queue and its messages stay)."""
        output.confirm(f"Remove event source {source_id} of {ref}?", yes)
        with output.client() as c:
            c.functions.remove_event_source(ref, source_id)
        output.show({"deleted": source_id} if output.STATE["json"] else f"removed {source_id}")
