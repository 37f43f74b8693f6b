"""``cumulo secrets ...``: store, read, version and delete secrets."""

from __future__ import annotations

import sys

import typer

from cumulo.cli import output

COLUMNS = ["id", "name", "version", "status", "description", "updated_at"]


def register(app: typer.Typer) -> None:
    secrets = typer.Typer(help="Secrets Manager: encrypted, versioned values", no_args_is_help=True)
    app.add_typer(secrets, name="secrets")

    def read_value(value: str | None) -> str:
        if value is None or value == "-":
            return sys.stdin.read().rstrip("\n")
        return value

    @secrets.command("create")
    @output.handle_errors
    def create(name: str, value: str | None = typer.Option(None, "--value", help="the value; read from stdin when omitted"),
               description: str = typer.Option("", "--description", "-d")) -> None:
        """Create a secret (pass the value on stdin to keep it out of your shell history)."""
        with output.client() as c:
            output.show(c.secrets.create(name, read_value(value), description))

    @secrets.command("list")
    @output.handle_errors
    def list_(include_deleted: bool = typer.Option(False, "--include-deleted")) -> None:
        """List secrets (names and metadata, never values)."""
        with output.client() as c:
            output.show(c.secrets.list(include_deleted), COLUMNS)

    @secrets.command("get")
    @output.handle_errors
    def get(ref: str, version: int | None = typer.Option(None, "--version"),
            value_only: bool = typer.Option(False, "--value-only", help="print only the value")) -> None:
        """Read a secret's value (audited)."""
        with output.client() as c:
            data = c.secrets.get(ref, version)
        if value_only:
            sys.stdout.write(data["value"] + "\n")
        else:
            output.show(data)

    @secrets.command("put")
    @output.handle_errors
    def put(ref: str, value: str | None = typer.Option(None, "--value", help="the new value; read from stdin when omitted"),
            description: str | None = typer.Option(None, "--description", "-d")) -> None:
        """Store a new version of a secret."""
        with output.client() as c:
            output.show(c.secrets.put(ref, read_value(value), description))

    @secrets.command("delete")
    @output.handle_errors
    def delete(ref: str, recovery_window_days: int = typer.Option(30, "--recovery-window-days"),
               force: bool = typer.Option(False, "--force", help="delete now, without a recovery window"),
               yes: bool = output.YES) -> None:
        """Schedule a secret for deletion (restorable during the recovery window)."""
        output.confirm(f"Delete secret {ref}" + (" now, for good?" if force else f" in {recovery_window_days} days?"),
                       yes)
        with output.client() as c:
            result = c.secrets.delete(ref, recovery_window_days, force)
        output.show(result if result else f"deleted {ref}")

    @secrets.command("restore")
    @output.handle_errors
    def restore(ref: str) -> None:
        """Cancel a scheduled deletion."""
        with output.client() as c:
            output.show(c.secrets.restore(ref))
