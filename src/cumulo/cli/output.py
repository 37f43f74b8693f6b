"""What every CLI command shares: the saved login, the client, tables or JSON, friendly errors."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:
    from cumulo.client import Client

STATE: dict[str, Any] = {"url": None, "api_key": None, "json": False, "wide": False}


class _LazyConsole:
    """A rich ``Console`` made on first use: importing rich costs a tenth of a second that
    ``cumulo --help`` and most commands never need. A console whose output is not a terminal is
    wide, so a piped table never cuts an id."""

    def __init__(self, stderr: bool = False):
        self._stderr = stderr
        self._console: Any = None

    @property
    def rich(self) -> Any:
        """The real ``rich.console.Console``, for what needs the object itself (``Progress``, ``Live``:
        they use it as a context manager, which ``__getattr__`` cannot stand in for)."""
        if self._console is None:
            from rich.console import Console

            stream = sys.stderr if self._stderr else sys.stdout
            wide = STATE.get("wide") or not stream.isatty()
            self._console = Console(stderr=self._stderr, width=100_000 if wide and not self._stderr else None)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rich, name)


console: Any = _LazyConsole()
err_console: Any = _LazyConsole(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")
DEFAULT_URL = "http://127.0.0.1:8080"


def config_path() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "cumulo" / "credentials.json"


def load_saved() -> dict[str, Any]:
    try:
        saved = json.loads(config_path().read_text())
        return saved if isinstance(saved, dict) else {}
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
    from cumulo.client import Client

    key = (STATE["api_key"] or load_saved().get("api_key")) if auth else None
    return Client(url(), api_key=key)


YES = typer.Option(False, "--yes", "-y", help="do not ask for confirmation")


def confirm(question: str, yes: bool) -> None:
    """Ask before a destructive command unless ``--yes`` (the answer may come piped: ``yes | cumulo ...``;
    no answer at all is a no)."""
    if yes:
        return
    if not typer.confirm(f"{question} (--yes skips this question)", default=False, err=True):
        err_console.print("Cancelled: nothing was changed.")
        raise typer.Exit(1)


def read_secret(label: str, confirm: bool = False) -> str:
    """A password from the terminal (hidden, asked twice with ``confirm``) or, when the input is piped,
    its first line: no getpass warning about echo, no prompt text in the output."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            err_console.print(f"error: {label.lower()} expected on the input")
            raise typer.Exit(1)
        return line
    return str(typer.prompt(label, hide_input=True, confirmation_prompt=confirm))


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from cumulo.client import ApiError, ConnectionFailed

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

    return wrapper


KEEP_WHOLE = ("id", "name", "key", "prefix", "email", "url", "endpoint", "receipt_handle", "handle", "arn", "image")
UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(value: float, unit: str = "B") -> str:
    """``20971520`` -> ``20 MiB``; ``1536`` with unit ``MiB`` -> ``1.5 GiB``."""
    step = UNITS.index(unit)
    size = float(value)
    while abs(size) >= 1024 and step < len(UNITS) - 1:
        size, step = size / 1024, step + 1
    text = f"{size:.1f}".rstrip("0").rstrip(".") if step else str(int(size))
    return f"{text} {UNITS[step]}"


def _size_unit(column: str) -> str | None:
    if column in ("size", "bytes") or column.endswith(("_bytes", "_size")):
        return "B"
    if column.endswith("_mb"):
        return "MiB"
    if column.endswith("_gb"):
        return "GiB"
    return None


def cell(column: str, value: Any) -> str:
    """A value as a table shows it: sizes human-readable, structures as JSON."""
    if value is None:
        return ""
    unit = _size_unit(column)
    if unit and isinstance(value, int | float) and not isinstance(value, bool):
        return human_size(value, unit)
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _whole(column: str) -> bool:
    return column in KEEP_WHOLE or column.endswith(("_id", "_handle", "_name", "_ids"))


def show_series(data: dict[str, Any]) -> None:
    """A recorded CPU/memory series (``/metrics``): one row per point, oldest first."""
    if STATE["json"]:
        show(data)
        return
    columns = ["time", "cpu_percent", "memory_bytes", "memory_percent", "pids"]
    if data["resource_type"] == "deployment":
        columns.append("members")
    show(data["points"], columns, title=f"{data['resource_type']} {data['resource_id']}: a point every "
                                        f"{data['interval_seconds']:g} s")


def show(data: Any, columns: Iterable[str] | None = None, title: str | None = None) -> None:
    """Print ``data`` as JSON (``--json``), as a table (a list of rows), or as key/value pairs.

    A table never cuts what a user must copy (ids, names, receipt handles): those columns keep their
    full width and the others wrap; ``--wide`` (or output that is not a terminal) never wraps at all."""
    from rich.table import Table

    if STATE["json"]:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if isinstance(data, list):
        cols = list(columns or (data[0].keys() if data else []))
        rows = [[cell(c, row.get(c)) for c in cols] for row in data]
        table = Table(title=title)
        widths = [max([len(col), *(len(r[i]) for r in rows)]) for i, col in enumerate(cols)]
        for col, width in zip(cols, widths):
            if _whole(col):
                table.add_column(col, no_wrap=True, min_width=width)
            else:
                table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*row)
        if sum(w for c, w in zip(cols, widths) if _whole(c)) + 3 * len(cols) + 10 * len(cols) > console.width:
            # ids alone fill the terminal: print at full width and let the terminal wrap, never cut an id
            from rich.console import Console

            Console(file=console.file, width=sum(widths) + 3 * len(cols) + 1, color_system=console.color_system,
                    force_terminal=console.is_terminal).print(table, crop=False)
        else:
            console.print(table)
    elif isinstance(data, dict):
        table = Table(show_header=False, title=title)
        table.add_column("field", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for k, v in data.items():
            table.add_row(str(k), cell(str(k), v))
        console.print(table)
    else:
        console.print(data)
