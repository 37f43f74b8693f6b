"""Accounts and keys: register, login, logout, whoami, password reset, keys, events, health."""

from __future__ import annotations

import typer

from cumulo.cli import output
from cumulo.cli.output import handle_errors, show

KEY_COLUMNS = ["id", "name", "prefix", "created_at", "last_used"]


def register(app: typer.Typer) -> None:
    keys = typer.Typer(help="Manage API keys", no_args_is_help=True)
    app.add_typer(keys, name="keys")

    @app.command("register")
    @handle_errors
    def register_(email: str = typer.Option(..., prompt=True), name: str = typer.Option(..., prompt=True),
                  password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True)) -> None:
        """Create an account."""
        with output.client(auth=False) as c:
            show(c.identity.register(email, password, name))

    @app.command()
    @handle_errors
    def login(email: str = typer.Option(..., prompt=True),
              password: str = typer.Option(..., prompt=True, hide_input=True)) -> None:
        """Log in; the new API key is saved (0600) in your config folder."""
        with output.client(auth=False) as c:
            out = c.identity.login(email, password)
        path = output.save(output.url(), out["api_key"])
        if output.STATE["json"]:
            show({"user": out["user"], "saved_to": str(path)})
        else:
            output.console.print(f"Logged in as [bold]{out['user']['email']}[/]; key saved to {path}")

    @app.command()
    def logout() -> None:
        """Forget the saved API key."""
        output.console.print("Logged out." if output.forget() else "Not logged in.")

    @app.command()
    @handle_errors
    def whoami() -> None:
        """Show the account behind the current key."""
        with output.client() as c:
            show(c.identity.me())

    @app.command("forgot-password")
    @handle_errors
    def forgot_password(email: str = typer.Option(..., prompt=True)) -> None:
        """Ask for a password-reset token by mail."""
        with output.client(auth=False) as c:
            show(c.identity.forgot_password(email))

    @app.command("reset-password")
    @handle_errors
    def reset_password(token: str = typer.Option(..., prompt=True),
                       password: str = typer.Option(..., prompt=True, hide_input=True,
                                                    confirmation_prompt=True)) -> None:
        """Set a new password with the token from the reset mail."""
        with output.client(auth=False) as c:
            show(c.identity.reset_password(token, password))

    @keys.command("list")
    @handle_errors
    def keys_list() -> None:
        """List your API keys (never their values)."""
        with output.client() as c:
            show(c.identity.keys(), KEY_COLUMNS, title="API keys")

    @keys.command("create")
    @handle_errors
    def keys_create(name: str = typer.Argument(..., help="A name to recognise the key by")) -> None:
        """Create a key; its value is shown only this once."""
        with output.client() as c:
            show(c.identity.create_key(name))

    @keys.command("rotate")
    @handle_errors
    def keys_rotate(key_id: str) -> None:
        """Replace a key by a new one; the old one stops working at once."""
        with output.client() as c:
            show(c.identity.rotate_key(key_id))

    @keys.command("revoke")
    @handle_errors
    def keys_revoke(key_id: str) -> None:
        """Revoke a key."""
        with output.client() as c:
            c.identity.revoke_key(key_id)
        output.console.print(f"Key {key_id} revoked.")

    @app.command()
    @handle_errors
    def health() -> None:
        """Readiness of the server and its dependencies."""
        with output.client(auth=False) as c:
            data = c.health()
        show(data)
        if data.get("status") != "UP":
            raise typer.Exit(1)

    @app.command()
    @handle_errors
    def events(limit: int = typer.Option(20, "--limit", "-n")) -> None:
        """Your latest events, newest first."""
        with output.client() as c:
            show(c.events(limit), ["created_at", "action", "resource_type", "resource_id"], title="Events")
