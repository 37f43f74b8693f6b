"""What every CLI command shares: the saved login, the client, tables or JSON, friendly errors."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:
    from cumulo.client import Client

STATE: dict[str, Any] = {"url": None, "api_key": None, "json": False, "wide": False}


# rich's markup: [style] ... [/style] or [/]; a tag starts with a letter, #, / or @; \\[ is a literal [
_TAG = re.compile(r"(\\*)\[([a-z#/@][^[]*?)]")
_SGR = {"bold": "1", "dim": "2", "italic": "3", "underline": "4", "reverse": "7", "black": "30", "red": "31",
        "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36", "white": "37"}
_ATTRIBUTES = ("1", "2", "3", "4", "7")


def _sgr(style: str) -> str:
    """ANSI codes of a simple rich style ("bold red"); words it does not know add nothing."""
    codes = []
    for word in style.lower().split():
        if word.startswith("bright_") and word[7:] in _SGR and _SGR[word[7:]] not in _ATTRIBUTES:
            codes.append(str(int(_SGR[word[7:]]) + 60))
        elif word in _SGR:
            codes.append(_SGR[word])
    if os.environ.get("NO_COLOR"):
        codes = [c for c in codes if c in _ATTRIBUTES]
    return ";".join(codes)


def render_markup(text: str, color: bool, style: str | None = None, markup: bool = True) -> str:
    """``text`` with rich's markup tags applied as ANSI codes (``color``) or taken out, as rich prints
    it (each run of text in its combined style, then a reset); a closing tag that matches nothing is
    dropped (rich would raise). ``style``: the whole text's; ``markup=False``: tags are text."""
    runs: list[tuple[str, tuple[str, ...]]] = []
    stack: list[str] = [style] if style else []
    base = len(stack)
    position = 0
    for match in _TAG.finditer(text) if markup else ():
        runs.append((text[position:match.start()], tuple(stack)))
        position = match.end()
        backslashes, tag = match.group(1), match.group(2)
        runs.append(("\\" * (len(backslashes) // 2), tuple(stack)))
        if len(backslashes) % 2:  # an escaped tag is text
            runs.append((f"[{tag}]", tuple(stack)))
        elif not tag.startswith("/"):
            stack.append(tag.partition("=")[0] if tag.startswith("@") else tag)
        elif name := tag[1:].strip():
            if name in stack[base:]:
                del stack[len(stack) - 1 - stack[::-1].index(name)]
        elif len(stack) > base:
            stack.pop()
    runs.append((text[position:], tuple(stack)))
    out = []
    for run, styles in runs:
        if not run:
            continue
        codes = _sgr(" ".join(styles)).split(";") if color and styles else []
        ordered = sorted(dict.fromkeys(c for c in codes if c), key=lambda c: (c not in _ATTRIBUTES, int(c)))
        out.append(f"\x1b[{';'.join(ordered)}m{run}\x1b[0m" if ordered else run)
    return "".join(out)


class _LazyConsole:
    """A rich ``Console`` made on first use: importing rich costs a tenth of a second that
    ``cumulo --help`` and most commands never need. Text alone (``print("[red]error:[/] ...")``) is
    written without rich: markup applied as rich applies it (colours on a terminal, none in a pipe),
    no emoji codes, no re-wrapping. A console whose output is not a terminal is wide, so a piped
    table never cuts an id."""

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

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", style: str | None = None,
              markup: bool | None = None, highlight: bool | None = None, **kwargs: Any) -> None:
        # once rich's console exists (a status spinner or a live view may be drawing on it) it prints
        if self._console is not None or kwargs or not all(isinstance(o, str) for o in objects):
            self.rich.print(*objects, sep=sep, end=end, style=style, markup=markup, highlight=highlight, **kwargs)
            return
        stream = sys.stderr if self._stderr else sys.stdout
        color = bool(os.environ.get("FORCE_COLOR")) or (
            stream.isatty() and os.environ.get("TERM", "") not in ("dumb", "unknown"))
        stream.write(render_markup(sep.join(objects), color, style, markup is not False) + end)
        stream.flush()

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
    """The SDK's client over ``client/lighthttp.py`` (no httpx import: a tenth of a second of every
    command), or over httpx when a proxy is configured in the environment."""
    from cumulo.client import Client
    from cumulo.client.lighthttp import for_environment

    key = (STATE["api_key"] or load_saved().get("api_key")) if auth else None
    address = url()
    return Client(address, api_key=key, http=for_environment(address.rstrip("/")))


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


_HEAVY_HEAD = ("┏━┳┓", "┃┃┃", "┡━╇┩", "│││", "└─┴┘")  # rich's box.HEAVY_HEAD: top, head, under head, row, bottom
_SQUARE = ("┌─┬┐", "│││", "├─┼┤", "│││", "└─┴┘")  # what rich draws a table without a header with
_EMOJI_CODE = re.compile(r":(\S*?)(?:-(?:emoji|text))?:")


def _plain_enough(texts: Iterable[str]) -> bool:
    """Text that rich would print as it is: printable ASCII (one cell a character), no markup tag,
    no emoji code rich knows (``:100:``)."""
    codes: list[str] = []
    for text in texts:
        if not (text.isascii() and text.isprintable()) or _TAG.search(text):
            return False
        # a time's ":00:" names no emoji (only letters and "100", "1234", "+1", "-1" do): rich's table
        # of names is loaded only for a code that might be one
        codes.extend(c for c in _EMOJI_CODE.findall(text) if not c.isdigit() or c in ("100", "1234"))
    if codes:
        from rich._emoji_codes import EMOJI

        return not any(code.lower() in EMOJI for code in codes)
    return True


def _light_table(stream: Any, width: int, color: bool, title: str | None, header: list[str] | None,
                 rows: list[list[str]], bold_first: bool = False) -> bool:
    """Write the table rich would draw when it fits (``width``) and its text is plain (the same
    characters and, on a terminal, the same bold header and italic title); False, nothing written,
    for rich to do it (a table to fold to the terminal, wide or special characters)."""
    lines = [*([header] if header else []), *rows]
    if not lines or not _plain_enough([title or "", *(c for line in lines for c in line)]):
        return False
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    total = sum(widths) + 3 * len(widths) + 1
    if total > width:
        return False
    box = _HEAVY_HEAD if header else _SQUARE

    def rule(chars: str) -> str:
        return chars[0] + chars[2].join(chars[1] * (w + 2) for w in widths) + chars[3]

    def row(cells: list[str], edge: str, bold: list[bool]) -> str:
        out = []
        for text, w, strong in zip(cells, widths, bold):
            padded = text.ljust(w)
            out.append(f"\x1b[1m \x1b[0m\x1b[1m{padded}\x1b[0m\x1b[1m \x1b[0m" if strong and color else f" {padded} ")
        return edge[0] + edge[1].join(out) + edge[2]

    text = []
    if title:
        left = (total - len(title)) // 2
        line = " " * left + title + " " * (total - len(title) - left)
        text.append(f"\x1b[3m{line}\x1b[0m" if color else line)
    text.append(rule(box[0]))
    if header:
        text.append(row(header, box[1], [True] * len(widths)))
        text.append(rule(box[2]))
    text.extend(row(r, box[3], [bold_first] + [False] * (len(widths) - 1)) for r in rows)
    text.append(rule(box[4]))
    stream.write("\n".join(text) + "\n")
    stream.flush()
    return True


def _light(table: Callable[[Any, int, bool], bool]) -> bool:
    """Draw ``table(stream, width, color)`` on stdout without rich, unless rich's console is already
    at work (a status spinner or a live view draws on it; or a caller put its own console in place)."""
    if not isinstance(console, _LazyConsole) or console._console is not None:
        return False
    return table(*_terminal())


def _terminal() -> tuple[Any, int, bool]:
    """stdout, the width a table may take there (a pipe or --wide: no limit) and whether it shows
    styles: as the lazy console's rich Console would decide."""
    stream = sys.stdout
    tty = stream.isatty()
    if STATE.get("wide") or not tty:
        width = 100_000
    else:
        import shutil

        width = shutil.get_terminal_size().columns
    color = bool(os.environ.get("FORCE_COLOR")) or (tty and os.environ.get("TERM", "") not in ("dumb", "unknown"))
    return stream, width, color


def show(data: Any, columns: Iterable[str] | None = None, title: str | None = None) -> None:
    """Print ``data`` as JSON (``--json``), as a table (a list of rows), or as key/value pairs.

    A table never cuts what a user must copy (ids, names, receipt handles): those columns keep their
    full width and the others wrap; ``--wide`` (or output that is not a terminal) never wraps at all.
    A table that fits as it is, in plain characters, is drawn here exactly as rich draws it, without
    importing rich (a twentieth of a second of every listing); rich draws the others."""
    if STATE["json"]:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if isinstance(data, list):
        cols = list(columns or (data[0].keys() if data else []))
        rows = [[cell(c, row.get(c)) for c in cols] for row in data]
        widths = [max([len(col), *(len(r[i]) for r in rows)]) for i, col in enumerate(cols)]
        if cols and _light(lambda out, width, color: _light_table(out, width, color, title, cols, rows)):
            return
        from rich.table import Table

        table = Table(title=title)
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
        pairs = [[str(k), cell(str(k), v)] for k, v in data.items()]
        if _light(lambda out, width, color: _light_table(out, width, color, title, None, pairs, bold_first=True)):
            return
        from rich.table import Table

        table = Table(show_header=False, title=title)
        table.add_column("field", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for key, value in pairs:
            table.add_row(key, value)
        console.print(table)
    else:
        console.print(data)
