"""Server roles: up, api, s3, worker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from cumulo.core.config import Settings


def _settings(host: str | None, port: int | None, s3_port: int | None, data_dir: Path | None) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in {"host": host, "port": port, "s3_port": s3_port, "data_dir": data_dir}.items()
                 if v is not None}
    from cumulo.core.config import Settings

    return Settings(**overrides)


def register(app: typer.Typer) -> None:
    host_opt = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1, CUMULO_HOST)")
    port_opt = typer.Option(None, "--port", help="API port (default 8080, CUMULO_PORT)")
    s3_opt = typer.Option(None, "--s3-port", help="S3 port (default 9000, CUMULO_S3_PORT)")
    dir_opt = typer.Option(None, "--data-dir", help="Data folder (default ./.cumulo, CUMULO_DATA_DIR)")

    def run(api: bool, s3: bool, workers: bool, host: str | None, port: int | None, s3_port: int | None,
            data_dir: Path | None) -> None:
        from cumulo.runtime.server import run as run_role

        run_role(_settings(host, port, s3_port, data_dir), api=api, s3=s3, workers=workers)

    @app.command()
    def up(host: str | None = host_opt, port: int | None = port_opt, s3_port: int | None = s3_opt,
           data_dir: Path | None = dir_opt) -> None:
        """Run everything in one process: API, S3 endpoint and background workers."""
        run(True, True, True, host, port, s3_port, data_dir)

    @app.command("api")
    def api_role(host: str | None = host_opt, port: int | None = port_opt, data_dir: Path | None = dir_opt) -> None:
        """Run only the API (scale out against one PostgreSQL)."""
        run(True, False, False, host, port, None, data_dir)

    @app.command("s3")
    def s3_role(host: str | None = host_opt, s3_port: int | None = s3_opt, data_dir: Path | None = dir_opt) -> None:
        """Run only the S3 endpoint."""
        run(False, True, False, host, None, s3_port, data_dir)

    @app.command()
    def worker(data_dir: Path | None = dir_opt) -> None:
        """Run only the background workers (reconcilers, schedulers)."""
        run(False, False, True, None, None, None, data_dir)
