"""Root of the CLI. Every module of ``cumulo.cli`` with a ``register(app)`` adds its commands."""

from __future__ import annotations

import importlib
import pkgutil

import typer

from cumulo import __version__, cli
from cumulo.cli import output

app = typer.Typer(name="cumulo", help="Cumulo: your own cloud. Run `cumulo up` to start the server.",
                  no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False)


@app.callback()
def _root(
    url: str = typer.Option(None, "--url", envvar="CUMULO_URL", help="API address (default: saved or http://127.0.0.1:8080)"),
    api_key: str = typer.Option(None, "--api-key", envvar="CUMULO_API_KEY", help="API key (default: the saved one)"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    wide: bool = typer.Option(False, "--wide", "-w", help="Tables at full width, nothing wrapped"),
) -> None:
    output.STATE.update(url=url, api_key=api_key, json=json_out, wide=wide)


@app.command()
def version() -> None:
    """Print Cumulo's version."""
    typer.echo(__version__)


for _info in pkgutil.iter_modules(cli.__path__):
    if _info.name not in ("main", "output"):
        _module = importlib.import_module(f"cumulo.cli.{_info.name}")
        if hasattr(_module, "register"):
            _module.register(app)
