"""cli/coercion.py: plain text, whole numbers, decimals and flags are converted without pydantic (half of a
simple command's start-up); every other value, and every value that would be refused, still goes
through typer's own conversion, with its messages."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from cumulo.cli import coercion


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def run(name: str = typer.Argument(...), n: int = typer.Option(3, "--n"), f: float = typer.Option(0.5, "--f"),
            tag: list[str] = typer.Option([], "--tag"), count: list[int] = typer.Option([], "--count"),
            flag: bool = typer.Option(False, "--flag"), ranged: int = typer.Option(5, "--ranged", min=1, max=10),
            path: Path | None = typer.Option(None, "--path", exists=True),
            maybe: str | None = typer.Option(None, "--maybe")) -> None:
        typer.echo(json.dumps({"name": name, "n": n, "f": f, "tag": tag, "count": count, "flag": flag,
                               "ranged": ranged, "path": str(path) if path else None, "maybe": maybe,
                               "types": [type(v).__name__ for v in (n, f, flag)]}))

    return app


def _run(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(_app(), list(args))
    return done.exit_code, done.output


def test_plain_values_are_converted_as_typer_converts_them() -> None:
    assert coercion.install()  # idempotent: cumulo.cli.main already did it
    code, out = _run("web", "--n", "12", "--f", "-1.5e3", "--tag", "a", "--tag", "b c", "--count", "7",
                     "--flag", "--maybe", "")
    assert code == 0, out
    got = json.loads(out)
    assert got == {**got, "name": "web", "n": 12, "f": -1500.0, "tag": ["a", "b c"], "count": [7], "flag": True,
                   "ranged": 5, "path": None, "maybe": ""}
    assert got["types"] == ["int", "float", "bool"]
    assert json.loads(_run("x")[1])["n"] == 3  # defaults


def test_other_values_keep_typer_conversion_and_messages(tmp_path: Path) -> None:
    code, out = _run("x", "--n", "twelve")
    assert code == 2 and "--n" in out and "valid integer" in out
    code, out = _run("x", "--count", "1", "--count", "two")
    assert code == 2 and "valid integer" in out
    code, out = _run("x", "--f", "inf")  # not the plain form: typer's conversion, which takes it
    assert code == 0 and math.isinf(json.loads(out)["f"])
    assert _run("x", "--ranged", "11")[0] == 2 and json.loads(_run("x", "--ranged", "10")[1])["ranged"] == 10
    assert _run("x", "--path", str(tmp_path / "missing"))[0] == 2
    assert json.loads(_run("x", "--path", str(tmp_path))[1])["path"] == str(tmp_path)


def test_simple_commands_do_not_import_pydantic() -> None:
    code = ("import sys; from cumulo.cli.main import app; sys.argv[0] = 'cumulo'\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "print('pydantic' in sys.modules)")
    for args in (["version"], ["whoami"], ["instances", "list"], ["--wide", "--json", "keys", "list"],
                 ["instances", "logs", "web", "--tail", "5"]):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                              check=False, env={"CUMULO_URL": "http://127.0.0.1:9", "CUMULO_API_KEY": "cml_x",
                                                "PATH": "/usr/bin:/bin"})
        assert done.stdout.strip().splitlines()[-1] == "False", (args, done.stdout, done.stderr)
