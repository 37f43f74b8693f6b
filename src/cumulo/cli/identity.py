"""Accounts and keys: register, verify, login, logout, whoami, password reset, keys, quotas, events, health;
administrators: users and their roles."""

from __future__ import annotations

import typer

from cumulo.cli import output
from cumulo.cli.output import handle_errors, show

KEY_COLUMNS = ["id", "name", "prefix", "created_at", "last_used"]
USER_COLUMNS = ["id", "email", "name", "role", "email_verified", "created_at"]


def register(app: typer.Typer) -> None:
    keys = typer.Typer(help="Manage API keys", no_args_is_help=True)
    app.add_typer(keys, name="keys")
    users = typer.Typer(help="Administrators: the users and their roles", no_args_is_help=True)
    app.add_typer(users, name="users")

    @app.command("register")
    @handle_errors
    def register_(email: str = typer.Option(..., prompt=True), name: str = typer.Option(..., prompt=True),
                  password: str | None = typer.Option(None, help="asked for when not given (or read from piped input)")
                  ) -> None:
        """Create an account."""
        password = password or output.read_secret("Password", confirm=True)
        with output.client(auth=False) as c:
            show(c.identity.register(email, password, name))

    @app.command()
    @handle_errors
    def verify(token: str = typer.Argument(..., help="the token of the verification mail (or its whole link)")) -> None:
        """Confirm your e-mail address with the token from the verification mail."""
        with output.client(auth=False) as c:
            show(c.identity.verify(token.rstrip("/").rsplit("/", 1)[-1]))

    @app.command()
    @handle_errors
    def login(email: str = typer.Option(..., prompt=True),
              password: str | None = typer.Option(None, help="asked for when not given (or read from piped input)")
              ) -> None:
        """Log in; the new API key is saved (0600) in your config folder."""
        password = password or output.read_secret("Password")
        with output.client(auth=False) as c:
            out = c.identity.login(email, password)
        path = output.save(output.url(), out["api_key"])
        if output.STATE["json"]:
            show({"user": out["user"], "saved_to": str(path)})
        else:
            output.console.print(f"Logged in as [bold]{out['user']['email']}[/]; key saved to {path}")

    @app.command()
    def logout() -> None:
        """Revoke the saved API key on the server and forget it."""
        from cumulo.client import ApiError, ConnectionFailed

        key = output.STATE["api_key"] or output.load_saved().get("api_key")
        if not key:
            output.console.print("Not logged in.")
            return
        try:
            with output.client() as c:
                key_id = c.identity.logout()
            done = f"key {key_id} revoked on the server" if key_id else "key revoked on the server"
        except ApiError as exc:
            done = "the key no longer worked" if exc.status == 401 else f"the server refused to revoke it ({exc.message})"
        except ConnectionFailed:
            done = f"the server at {output.url()} did not answer, so the key was NOT revoked there"
        forgot = output.forget()
        output.console.print(f"Logged out: {done}" + ("; removed from this machine." if forgot else "."))

    @app.command()
    @handle_errors
    def whoami() -> None:
        """Show the account behind the current key."""
        if not (output.STATE["api_key"] or output.load_saved().get("api_key")):
            output.err_console.print("Not logged in: run `cumulo login` (or pass --api-key / CUMULO_API_KEY).")
            raise typer.Exit(1)
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
                       password: str | None = typer.Option(None, help="asked for when not given (or read from piped input)")
                       ) -> None:
        """Set a new password with the token from the reset mail."""
        password = password or output.read_secret("New password", confirm=True)
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
    def keys_revoke(key_id: str, yes: bool = output.YES) -> None:
        """Revoke a key."""
        output.confirm(f"Revoke key {key_id}? Whatever uses it stops working.", yes)
        with output.client() as c:
            c.identity.revoke_key(key_id)
        output.console.print(f"Key {key_id} revoked.")

    @app.command()
    @handle_errors
    def quotas() -> None:
        """Your limits and how much of each is used."""
        with output.client() as c:
            show(c.quotas(), ["kind", "used", "limit", "unit", "setting"], title="Quotas")

    @users.command("list")
    @handle_errors
    def users_list() -> None:
        """Every account (administrators only)."""
        with output.client() as c:
            show(c.identity.users(), USER_COLUMNS, title="Users")

    @users.command("set-role")
    @handle_errors
    def users_set_role(user_id: str, role: str = typer.Argument(..., help="admin or user")) -> None:
        """Make a user an administrator, or an administrator a plain user (administrators only)."""
        with output.client() as c:
            show(c.identity.set_role(user_id, role))

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
