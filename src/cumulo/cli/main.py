"""Root of the CLI. Every module of ``cumulo.cli`` with a ``register(app)`` adds its commands; the
root imports a module only when one of its commands runs (``cli/index.py`` names them), so
``cumulo --help`` and simple commands start in a fraction of a second."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any

import typer
import typer.core
import typer.main
from typer.core import TyperCommand, TyperGroup

from cumulo import __version__, cli
from cumulo.cli import coercion, lazyrich, output
from cumulo.cli.index import INDEX

# httpx's __init__ imports httpx._main, the `httpx` command line tool (click, pygments, rich.syntax,
# rich.progress: about a third of `import httpx`), only to export it as httpx.main. A None entry
# makes that import fail, and httpx then defines a stub main instead; the CLI never runs httpx's.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
# Help screens and usage errors in click's plain layout, not typer's rich panels: rendering those
# imports rich's console, tables, tracebacks and pygments and lays out a table per panel, about
# 0.15 s of every `cumulo --help` on a small machine (issue 13: start-up under 0.3 s). typer reads
# this flag at each help and error, so every group and command of the CLI follows it.
typer.core.HAS_RICH = False
coercion.install()  # plain text and numbers converted without pydantic (cli/coercion.py)
lazyrich.install()  # rich.markdown (markdown-it) only when Markdown is rendered (cli/lazyrich.py)


class LazyRoot(TyperGroup):
    """The root group: lists the indexed commands without importing them, builds a command's
    module on first use. A module missing from the index still works (every module is loaded
    when a name is not found); tests/cli/test_index.py keeps the index true."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()
        self._listing = False

    def _load(self, module_name: str) -> None:
        if module_name in self._loaded:
            return
        self._loaded.add(module_name)
        module = importlib.import_module(f"cumulo.cli.{module_name}")
        register = getattr(module, "register", None)
        if register is None:
            return
        holder = typer.Typer()
        register(holder)
        for name, command in typer.main.get_group(holder).commands.items():
            self.commands.setdefault(name, command)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(dict.fromkeys([*self.commands, *INDEX]))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in INDEX:
            module_name, short_help = INDEX[cmd_name]
            if self._listing:  # the root's help: a name and its line, nothing imported
                return TyperCommand(name=cmd_name, help=short_help, short_help=short_help)
            self._load(module_name)
            return self.commands.get(cmd_name)
        for info in pkgutil.iter_modules(cli.__path__):  # a module the index does not know yet
            if info.name not in ("main", "output", "index", "coercion", "lazyrich"):
                self._load(info.name)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        """``cumulo <TAB>``: the names and help lines from the index, nothing imported (a command's
        own words, ``cumulo queues <TAB>``, are completed by its group, imported as it resolves)."""
        self._listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False


app = typer.Typer(name="cumulo", help="Cumulo: your own cloud. Run `cumulo up` to start the server.",
                  no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False, cls=LazyRoot)


@app.callback()
def _root(
    url: str | None = typer.Option(None, "--url", envvar="CUMULO_URL", help="API address (default: saved or http://127.0.0.1:8080)"),
    api_key: str | None = typer.Option(None, "--api-key", envvar="CUMULO_API_KEY", help="API key (default: the saved one)"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    wide: bool = typer.Option(False, "--wide", "-w", help="Tables at full width, nothing wrapped"),
) -> None:
    output.STATE.update(url=url, api_key=api_key, json=json_out, wide=wide)


@app.command()
def version() -> None:
    """Print Cumulo's version."""
    typer.echo(__version__)
