"""What every CLI command shares: the saved login, the client, tables or JSON, friendly errors."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from cumulo.client import ApiError, Client, ConnectionFailed

STATE: dict[str, Any] = {"url": None, "api_key": None, "json": False}
console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_URL = "http://127.0.0.1:8080"


def config_path() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "cumulo" / "credentials.json"


def load_saved() -> dict[str, Any]:
    try:
        return json.loads(config_path().read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {}


def save(url: str, api_key: str | None) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": url, "api_key": api_key}, fh)
    os.chmod(path, 0o600)
    return path


def forget() -> bool:
    try:
        config_path().unlink()
        return True
    except FileNotFoundError:
        return False


def url() -> str:
    return STATE["url"] or load_saved().get("url") or DEFAULT_URL


def client(auth: bool = True) -> Client:
    key = (STATE["api_key"] or load_saved().get("api_key")) if auth else None
    return Client(url(), api_key=key)


def handle_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConnectionFailed as exc:
            err_console.print(f"[red]error:[/] {exc}. Is the server running? Start it with `cumulo up`.")
            raise typer.Exit(2) from None
        except ApiError as exc:
            hint = ""
            if exc.status == 401:
                hint = " Log in with `cumulo login` or pass --api-key."
            err_console.print(f"[red]error {exc.status} {exc.code}:[/] {exc.message}{hint}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def show(data: Any, columns: Iterable[str] | None = None, title: str | None = None) -> None:
    """Print ``data`` as JSON (``--json``), as a table (a list of rows), or as key/value pairs."""
    if STATE["json"]:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if isinstance(data, list):
        cols = list(columns or (data[0].keys() if data else []))
        table = Table(title=title)
        for col in cols:
            table.add_column(col)
        for row in data:
            table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in cols))
        console.print(table)
    elif isinstance(data, dict):
        table = Table(show_header=False, title=title)
        table.add_column("field", style="bold")
        table.add_column("value")
        for k, v in data.items():
            table.add_row(str(k), json.dumps(v) if isinstance(v, (dict, list)) else str(v))
        console.print(table)
    else:
        console.print(data)
