"""What a newcomer meets in the CLI: full ids on a narrow terminal, readable sizes, confirmation
before destruction, a logout that revokes, a clear whoami, quiet piped passwords, completion."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from cumulo.cli import output
from cumulo.testing.server import LiveServer
from tests.conftest import PASSWORD, new_email

HANDLE = "rh_" + "0123456789abcdef" * 6  # a receipt handle longer than the terminal is wide


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=out, width=60, force_terminal=True, color_system=None))
    monkeypatch.setitem(output.STATE, "json", False)
    return out


def test_a_narrow_table_keeps_ids_and_handles_whole(narrow: io.StringIO) -> None:
    output.show([{"id": "msg_" + "f" * 32, "receipt_handle": HANDLE, "body": "hello " * 30}],
                ["id", "receipt_handle", "body"])
    text = narrow.getvalue()
    assert HANDLE in text and "msg_" + "f" * 32 in text and "…" not in text


def test_sizes_are_human_readable(narrow: io.StringIO) -> None:
    output.show([{"name": "a.bin", "size": 20 * 1024 * 1024, "memory_mb": 1536, "size_gb": 10, "count": 2048}])
    text = narrow.getvalue()
    assert "20 MiB" in text and "1.5 GiB" in text and "10 GiB" in text and "2048" in text
    assert output.human_size(1023) == "1023 B" and output.human_size(1536) == "1.5 KiB"


def test_wide_tables_never_wrap(cli) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    cli("register", "--email", email, "--name", "Wide " * 12, "--password", PASSWORD)
    cli("login", "--email", email, "--password", PASSWORD)
    out = cli("--wide", "keys", "list").output
    key_line = next(line for line in out.splitlines() if "cml_" in line)
    assert "Default" in key_line or "login" in key_line or "cml_" in key_line


def test_destructive_commands_ask_first(cli) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    cli("register", "--email", email, "--name", "Careful", "--password", PASSWORD)
    cli("login", "--email", email, "--password", PASSWORD)
    name = f"keep-{email[1:9]}"
    cli("queues", "create", name)
    refused = cli("queues", "delete", name, ok=False)
    assert refused.exit_code == 1 and "--yes" in refused.output
    assert cli("--json", "queues", "show", name).exit_code == 0
    answered_no = cli("queues", "delete", name, input="n\n", ok=False)
    assert answered_no.exit_code == 1 and "nothing was changed" in answered_no.output
    cli("queues", "delete", name, input="y\n")
    assert cli("queues", "show", name, ok=False).exit_code == 1


def test_logout_revokes_the_key_and_whoami_says_logged_out(cli, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    cli("register", "--email", email, "--name", "Leaver", "--password", PASSWORD)
    cli("login", "--email", email, "--password", PASSWORD)
    import json

    key = json.loads(cli.config.read_text())["api_key"]
    assert httpx.get(f"{server.url}/auth/me", headers={"X-API-Key": key}).status_code == 200
    out = cli("logout").output
    assert "Logged out" in out and "revoked on the server" in out
    assert httpx.get(f"{server.url}/auth/me", headers={"X-API-Key": key}).status_code == 401
    assert not cli.config.exists()
    again = cli("logout").output
    assert "Not logged in" in again
    who = cli("whoami", ok=False)
    assert who.exit_code == 1 and "Not logged in" in who.output and "cumulo login" in who.output


def _cumulo(args: list[str], env: dict[str, str], stdin: str) -> subprocess.CompletedProcess[str]:
    """The real command in a new session (no controlling terminal), input piped, as in a script."""
    return subprocess.run([sys.executable, "-c", "from cumulo.cli.main import app; app()", *args], input=stdin,
                          capture_output=True, text=True, env={**os.environ, **env}, timeout=120,
                          start_new_session=True, check=False)


def test_register_and_login_with_piped_password_print_no_warnings(cli) -> None:  # type: ignore[no-untyped-def]
    email = new_email()
    done = _cumulo(["register", "--email", email, "--name", "Piped"], cli.env, f"{PASSWORD}\n{PASSWORD}\n")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "Warning" not in done.stdout and "user_id" in done.stdout
    done = _cumulo(["login", "--email", email], cli.env, f"{PASSWORD}\n")
    assert done.returncode == 0 and done.stderr == "" and "Logged in as" in done.stdout


def test_shell_completion_is_offered(cli) -> None:  # type: ignore[no-untyped-def]
    assert "--install-completion" in cli("--help").output
    env = {**cli.env, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    command = str(Path(sys.executable).with_name("cumulo"))  # the installed console script
    done = subprocess.run([command, "--show-completion", "bash"], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60, check=False)
    assert done.returncode == 0 and "_CUMULO_COMPLETE=complete_bash" in done.stdout
    assert "complete -o default -F _cumulo_completion cumulo" in done.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_install_completion_makes_bash_complete_commands(tmp_path: Path) -> None:
    """`cumulo --install-completion bash` in a fresh home, then a new bash completes as a user's would."""
    command = Path(sys.executable).with_name("cumulo")
    env = {"HOME": str(tmp_path), "PATH": f"{command.parent}:/usr/bin:/bin",
           "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    done = subprocess.run([str(command), "--install-completion", "bash"], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert done.returncode == 0 and "completion installed" in done.stdout, done.stdout + done.stderr
    script = ('source ~/.bashrc; complete -p cumulo\n'
              'COMP_WORDS=(cumulo qu); COMP_CWORD=1; _cumulo_completion cumulo; echo "top: ${COMPREPLY[*]}"\n'
              'COMP_WORDS=(cumulo queues ""); COMP_CWORD=2; _cumulo_completion cumulo; echo "queues: ${COMPREPLY[*]}"')
    shell = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60, check=False)
    lines = shell.stdout.splitlines()
    assert "complete -o default -F _cumulo_completion cumulo" in lines, shell.stdout + shell.stderr
    assert set(next(line for line in lines if line.startswith("top:")).split()[1:]) == {"queues", "quotas"}
    words = set(next(line for line in lines if line.startswith("queues:")).split()[1:])
    assert {"create", "send", "receive", "delete", "purge", "change-visibility"} <= words
