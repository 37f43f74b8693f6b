"""``cumulo keypairs ...``: SSH key pairs for VMs."""

from __future__ import annotations

from pathlib import Path

import typer

from cumulo.cli import output

COLUMNS = ["id", "name", "fingerprint", "public_key"]


def register(app: typer.Typer) -> None:
    keypairs = typer.Typer(help="SSH key pairs: made here (private key shown once) or imported",
                           no_args_is_help=True)
    app.add_typer(keypairs, name="keypairs")

    @keypairs.command("create")
    @output.handle_errors
    def create(name: str, save: Path | None = typer.Option(None, "--save", help="write the private key to this file "
                                                    "(mode 600) instead of showing it")) -> None:
        """Make a new Ed25519 key pair; its private key is given this once."""
        with output.client() as c:
            made = c.keypairs.create(name)
        if save is not None:
            save.touch(mode=0o600, exist_ok=False)
            save.write_text(made.pop("private_key"))
            output.err_console.print(f"private key written to {save}")
        output.show(made)

    @keypairs.command("import")
    @output.handle_errors
    def import_(name: str, public_key_file: Path) -> None:
        """Import an OpenSSH public key (e.g. ~/.ssh/id_ed25519.pub)."""
        with output.client() as c:
            output.show(c.keypairs.import_key(name, public_key_file.read_text()))

    @keypairs.command("list")
    @output.handle_errors
    def list_() -> None:
        """List your key pairs."""
        with output.client() as c:
            output.show(c.keypairs.list(), COLUMNS)

    @keypairs.command("show")
    @output.handle_errors
    def show(keypair: str) -> None:
        """One key pair: its public key and fingerprint."""
        with output.client() as c:
            output.show(c.keypairs.get(keypair))

    @keypairs.command("delete")
    @output.handle_errors
    def delete(keypair: str, yes: bool = output.YES) -> None:
        """Delete a key pair (VMs that have it keep it)."""
        output.confirm(f"Delete key pair {keypair}?", yes)
        with output.client() as c:
            c.keypairs.delete(keypair)
        output.console.print(f"deleted key pair {keypair}")
