"""The CLI's index (cli/index.py) names every top-level command with the module that registers it
and its help line, so ``cumulo --help`` imports no command module and a command imports only its own."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import typer
import typer.main

from cumulo import cli
from cumulo.cli.index import INDEX

ROOT = {"cumulo.cli.main", "cumulo.cli.output", "cumulo.cli.index", "cumulo.cli.coercion",
        "cumulo.cli.lazyrich"}  # what the root imports


def registered() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for info in pkgutil.iter_modules(cli.__path__):
        module = importlib.import_module(f"cumulo.cli.{info.name}")
        if info.name == "main" or not hasattr(module, "register"):
            continue
        holder = typer.Typer()
        module.register(holder)
        for name, command in typer.main.get_group(holder).commands.items():
            found[name] = (info.name, command.get_short_help_str(limit=300))
    return found


def test_the_index_names_every_command_with_its_module_and_help() -> None:
    real = registered()
    fix = [f'    "{name}": ("{module}", "{help_}"),' for name, (module, help_) in real.items() if INDEX.get(name) != real[name]]
    assert INDEX == real, "cli/index.py is out of date: " + ("set these entries:\n" + "\n".join(fix) if fix else
                                                            f"remove {sorted(set(INDEX) - set(real))}")


def loaded_after(*args: str) -> set[str]:
    code = ("import sys; from cumulo.cli.main import app; sys.argv[0] = 'cumulo'\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith('cumulo.cli.'))))")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, check=False,
                          env={"CUMULO_URL": "http://127.0.0.1:9", "COLUMNS": "100", "PATH": "/usr/bin:/bin"})
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_root_help_lists_every_command_but_imports_none() -> None:
    done = subprocess.run([sys.executable, "-c", "from cumulo.cli.main import app; app()", "--help"],
                          check=False, capture_output=True, text=True, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    for name in INDEX:
        assert f" {name} " in done.stdout, name
    assert loaded_after("--help") == ROOT


def test_a_command_imports_only_its_own_module() -> None:
    assert loaded_after("queues", "--help") - ROOT \
        == {"cumulo.cli.queues"}
    assert "cumulo.cli.compute" not in loaded_after("version")


def test_completing_a_top_level_command_imports_none() -> None:
    """`cumulo <TAB>` offers every command from the index without importing one; a group's own words
    (`cumulo queues <TAB>`) come from that group, imported alone."""
    code = ("import sys; from cumulo.cli.main import app; sys.argv[0] = 'cumulo'\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith('cumulo.cli.'))))")

    def complete(words: str) -> tuple[list[str], set[str]]:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
                              env={"PATH": "/usr/bin:/bin", "_CUMULO_COMPLETE": "complete_bash",
                                   "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)})
        *offered, modules = done.stdout.strip().splitlines()
        return offered, set(json.loads(modules))

    offered, modules = complete("cumulo ")
    assert set(INDEX) | {"version"} <= set(offered)
    assert modules == ROOT
    offered, modules = complete("cumulo queues ")
    assert {"create", "send", "receive", "change-visibility"} <= set(offered)
    assert modules - ROOT == {"cumulo.cli.queues"}


def test_a_command_that_calls_the_api_skips_httpx_command_line_tool() -> None:
    """httpx imports its own CLI (click, pygments) to export httpx.main; the CLI keeps it out. (httpx
    serves the CLI only when a proxy is configured: client/lighthttp.py otherwise.)"""
    code = ("import sys; from cumulo.cli.main import app; sys.argv[0] = 'cumulo'\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('httpx', 'httpx._main', 'pygments', 'rich.syntax') if sys.modules.get(m)))")
    done = subprocess.run([sys.executable, "-c", code, "instances", "list"], capture_output=True, text=True,
                          timeout=60, check=False, env={"CUMULO_URL": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin",
                                                        "HTTPS_PROXY": "http://127.0.0.1:9"})
    assert "cannot reach Cumulo" in done.stdout + done.stderr  # the request was sent, with httpx
    assert done.stdout.strip().splitlines()[-1] == "['httpx']"


def test_help_and_messages_import_no_rich() -> None:
    """Help screens in click's plain layout and a plain message (``whoami`` logged out) load no rich:
    its console alone is a twentieth of a second."""
    code = ("import sys; from cumulo.cli.main import app; sys.argv[0] = 'cumulo'\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('rich', 'rich.console', 'typer.rich_utils', 'httpx', 'pydantic') if sys.modules.get(m)))")
    for args, shown in ((["--help"], "Commands:"), (["queues", "--help"], "receive"), (["whoami"], "Not logged in"),
                        (["queues", "nope"], "No such command")):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                              check=False, env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": "/nonexistent"})
        assert shown in done.stdout + done.stderr, args
        assert done.stdout.strip().splitlines()[-1] == "[]", args


def test_root_help_leaves_markdown_out_and_markdown_still_renders() -> None:
    """typer's help formatter imports rich.markdown (markdown-it, ~200 ms) for a markup mode the CLI
    does not use: ``cumulo --help`` renders without it, and Markdown made later is the real thing."""
    code = ("import sys, io; from cumulo.cli.main import app; sys.argv[0] = 'cumulo'\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "print('markdown_it' in sys.modules)\n"
            "from rich.console import Console; from rich.markdown import Markdown\n"
            "out = io.StringIO(); Console(file=out, width=40).print(Markdown('# Title\\n\\n- *one*'))\n"
            "import rich.markdown; print(type(rich.markdown).__name__, 'markdown_it' in sys.modules)\n"
            "print(repr(out.getvalue()))")
    done = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, timeout=60,
                          check=False)
    lines = done.stdout.strip().splitlines()
    assert "Usage: cumulo" in done.stdout and "queues" in done.stdout  # the root's help was printed
    assert lines[-3] == "False"  # no markdown-it behind the help
    assert lines[-2] == "module True"  # the real rich.markdown once Markdown is used
    assert "Title" in lines[-1] and "•" in lines[-1] and "one" in lines[-1]
