"""Tables and messages the CLI writes without rich (cli/output.py) are the characters rich writes:
each case is drawn both ways and compared, piped and on a terminal (bold header, italic title);
what the light path cannot draw as rich does (a table wider than the terminal, wide characters,
markup or emoji codes in a cell) is left to rich."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table

from cumulo.cli import output

ROWS = [{"id": "i-0123456789abcdef", "name": "web", "status": "running", "size_bytes": 2048, "tags": ["a", "b"]},
        {"id": "i-2", "name": None, "status": "x", "size_bytes": 1, "tags": []}]


def rich_table(data: Any, columns: list[str] | None, title: str | None, width: int, color: bool) -> str:
    """What show() drew with rich before the light path (the same Table construction)."""
    if isinstance(data, list):
        cols = list(columns or data[0].keys())
        rows = [[output.cell(c, row.get(c)) for c in cols] for row in data]
        table = Table(title=title)
        for i, col in enumerate(cols):
            width_of = max([len(col), *(len(r[i]) for r in rows)])
            if output._whole(col):
                table.add_column(col, no_wrap=True, min_width=width_of)
            else:
                table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*row)
    else:
        table = Table(show_header=False, title=title)
        table.add_column("field", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for k, v in data.items():
            table.add_row(str(k), output.cell(str(k), v))
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=color, color_system="standard" if color else None).print(table)
    return out.getvalue()


def light_table(data: Any, columns: list[str] | None, title: str | None, width: int, color: bool) -> str | None:
    out = io.StringIO()
    if isinstance(data, list):
        cols = list(columns or data[0].keys())
        rows = [[output.cell(c, row.get(c)) for c in cols] for row in data]
        drawn = output._light_table(out, width, color, title, cols, rows)
    else:
        drawn = output._light_table(out, width, color, title, None, [[str(k), output.cell(str(k), v)]
                                                                     for k, v in data.items()], bold_first=True)
    return out.getvalue() if drawn else None


CASES: list[tuple[Any, list[str] | None, str | None]] = [
    (ROWS, None, None),
    (ROWS, None, "My instances"),
    (ROWS, ["id", "status"], "odd title"),
    ([{"id": "a"}], ["id", "name"], None),
    ({"id": "u1", "email": "a@b.c", "name": "A", "role": "user", "quota": {"cpus": 2}}, None, None),
    ({"id": "u1", "created_at": "2026-12-02T10:00:00Z"}, None, "me"),
]


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_a_plain_table_is_what_rich_draws(case: int, color: bool) -> None:
    data, columns, title = CASES[case]
    light = light_table(data, columns, title, 200, color)
    assert light is not None
    assert light == rich_table(data, columns, title, 200, color)


def test_what_rich_must_draw_is_left_to_it() -> None:
    assert light_table(ROWS, None, None, 40, False) is None  # wider than the terminal: rich folds it
    for text in ("naïve", "日本", "[bold]x", ":100: percent", "two\nlines"):
        assert light_table([{"id": "1", "name": text}], None, None, 200, False) is None, text
    assert light_table([{"id": "1", "at": "10:00:00"}], None, None, 200, False) is not None  # not an emoji code
    assert light_table({}, None, None, 200, False) is None


def test_show_writes_the_table_without_rich(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "STATE", {**output.STATE, "json": False, "wide": False})
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setattr(output, "console", output._LazyConsole())
    output.show(ROWS, title="My instances")
    output.show({"id": "u1", "email": "a@b.c"})
    assert output.console._console is None  # rich's console was never made
    assert capsys.readouterr().out == rich_table(ROWS, None, "My instances", 100_000, False) \
        + rich_table({"id": "u1", "email": "a@b.c"}, None, None, 100_000, False)
    with output.console.status("working"):  # while rich's console draws a spinner, rich prints the table
        output.show({"id": "u1"})
    assert "u1" in capsys.readouterr().out


@pytest.mark.parametrize("color", [False, True])
def test_a_message_is_what_rich_prints(color: bool) -> None:
    for text in ("[red]error:[/] x [1, 2] done", r"a \[red] b", "[bold yellow]warn[/bold yellow] [dim]d[/]",
                 "plain [abc]tag", "[bold]bold [red]and red[/red] still bold[/bold] plain"):
        out = io.StringIO()
        Console(file=out, width=200, force_terminal=color, color_system="standard" if color else None,
                highlight=False).print(text)
        assert output.render_markup(text, color) + "\n" == out.getvalue(), text
    for text, style, markup in (("a log [red]line[/]", "dim", True), ("a log [red]line[/]", "dim", False)):
        out = io.StringIO()
        Console(file=out, width=200, force_terminal=color, color_system="standard" if color else None,
                highlight=False).print(text, style=style, markup=markup)
        assert output.render_markup(text, color, style, markup) + "\n" == out.getvalue(), text
