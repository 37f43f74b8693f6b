"""Administration that works directly on the database (run on the server machine)."""

from __future__ import annotations

import typer

from cumulo.cli import output


def register(app: typer.Typer) -> None:
    admin = typer.Typer(help="Server administration (direct database access)", no_args_is_help=True)
    app.add_typer(admin, name="admin")

    @admin.command("create-user")
    def create_user(email: str = typer.Option(..., prompt=True), name: str = typer.Option(..., prompt=True),
                    password: str | None = typer.Option(None, help="asked for when not given (or read from piped input)"),
                    is_admin: bool = typer.Option(False, "--admin", help="Make the user an administrator")) -> None:
        """Create a (verified) user, optionally an administrator."""
        import asyncio

        from cumulo.core.config import Settings
        from cumulo.core.errors import CumuloError
        from cumulo.services.identity.schemas import RegisterIn

        password = password or output.read_secret("Password", confirm=True)
        try:
            RegisterIn(email=email, password=password, name=name)
        except ValueError as exc:
            output.err_console.print(f"[red]invalid input:[/] {exc}")
            raise typer.Exit(1) from None

        async def run() -> str:
            from cumulo.db import migrate
            from cumulo.platform import build_platform
            from cumulo.services.identity import service

            settings = Settings()
            platform = build_platform(settings)
            await asyncio.to_thread(migrate.upgrade, settings.resolved_database_url)
            try:
                async with platform.db.session() as session:
                    user = await service.create_user(session, email=email, password=password, name=name,
                                                     role="admin" if is_admin else None, verified=True)
                    await session.commit()
                    return f"{user.id} ({user.role})"
            finally:
                await platform.db.dispose()

        try:
            output.console.print(f"Created user {asyncio.run(run())}")
        except CumuloError as exc:
            output.err_console.print(f"[red]error {exc.code}:[/] {exc.message}")
            raise typer.Exit(1) from None

    @admin.command("rotate-master-key")
    def rotate_master_key(new_key: str | None = typer.Option(None, "--new-key", envvar="CUMULO_NEW_MASTER_KEY",
                                                      help="the new key (32 bytes, base64 or hex); generated when omitted")
                          ) -> None:
        """Re-wrap every data key under a new master key, without downtime (see the README's Secrets section)."""
        import asyncio

        from cumulo.core.errors import CumuloError
        from cumulo.services.secrets.rotation import rotate

        try:
            output.console.print(asyncio.run(rotate(new_key)))
        except (CumuloError, ValueError) as exc:
            output.err_console.print(f"[red]error:[/] {getattr(exc, 'message', exc)}")
            raise typer.Exit(1) from None
