"""``cumulo instances launch|list|show|stop|start|reboot|rename|terminate|logs|stats``, ``cumulo ssh``
and ``cumulo exec``."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cumulo.cli import output
from cumulo.cli.output import client, console, err_console, handle_errors, show

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

instances_app = typer.Typer(help="Compute instances (containers on Docker).", no_args_is_help=True)
COLUMNS = ["id", "name", "image", "status", "ports", "ip_address", "cpus", "memory_mb", "expires_at"]


def _env(pairs: list[str] | None, option: str = "--env") -> dict[str, str]:
    env = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"{option} {pair!r}: use NAME=VALUE")
        env[key] = value
    return env


def _volumes(items: list[str] | None) -> list[dict[str, str]]:
    out = []
    for item in items or []:
        volume, sep, path = item.partition(":")
        if not sep:
            raise typer.BadParameter(f"--volume {item!r}: use VOLUME:/mount/path")
        out.append({"volume_id": volume, "mount_path": path})
    return out


def _user_data(source: str) -> str:
    try:
        return sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"--user-data {source!r}: {exc}") from exc


@instances_app.command("launch")
@handle_errors
def launch(
    name: str,
    image: str = typer.Option(..., "--image", "-i", help="e.g. cumulo/busybox (see `cumulo images list`)"),
    ports: str | None = typer.Option(None, "--ports", "-p", help='"HOST:CONTAINER,..."; host ports from the server range '
                                             '(CUMULO_HOST_PORT_RANGE), 0 = a free one'),
    env: list[str] | None = typer.Option(None, "--env", "-e", help="NAME=VALUE (repeatable)"),
    secret_env: list[str] | None = typer.Option(None, "--secret", "-s",
                                         help="NAME=SECRET_NAME: inject a Secrets Manager value (repeatable)"),
    cpus: float | None = typer.Option(None, "--cpus"),
    memory_mb: int | None = typer.Option(None, "--memory-mb"),
    vpc: str | None = typer.Option(None, "--vpc"),
    subnet: str | None = typer.Option(None, "--subnet"),
    volume: list[str] | None = typer.Option(None, "--volume", "-v", help="VOLUME:/mount/path (repeatable)"),
    ttl: int | None = typer.Option(None, "--ttl", help="terminate after this many seconds"),
    password: bool = typer.Option(False, "--password", help="prompt for a root password for the instance"),
    backend: str | None = typer.Option(None, "--backend", help="container (default) or vm (a QEMU virtual machine)"),
    key_name: str | None = typer.Option(None, "--key-name", help="a VM's key pair (cumulo keypairs) for root"),
    user_data: str | None = typer.Option(None, "--user-data", help="a VM's script, run once at its first boot: "
                                         "a file, or - for standard input"),
    cdrom: str | None = typer.Option(None, "--cdrom", help="a VM of a disk image's: an ISO disk of yours in its "
                                     "CD-ROM drive, booted first (e.g. an installer)"),
    command: list[str] | None = typer.Argument(None, help="command to run instead of the image's (after --)"),
) -> None:
    """Launch an instance and wait until it is RUNNING."""
    script = _user_data(user_data) if user_data is not None else None
    secret = typer.prompt("instance password", hide_input=True, confirmation_prompt=True) if password else None
    with console.status(f"launching {name} from {image}"):
        inst = client().instances.launch(name, image, ports=ports, env=_env(env) or None,
                                         env_secrets=_env(secret_env, "--secret") or None, cpus=cpus,
                                         memory_mb=memory_mb, vpc_id=vpc, subnet_id=subnet,
                                         volumes=_volumes(volume) or None, ttl_seconds=ttl,
                                         command=list(command) if command else None, password=secret,
                                         backend=backend, key_name=key_name, user_data=script, cdrom=cdrom)
    show(inst)
    if inst["status"] == "ERROR":
        raise typer.Exit(1)


@instances_app.command("list")
@handle_errors
def list_instances() -> None:
    show(client().instances.list(), COLUMNS)


@instances_app.command("show")
@handle_errors
def show_instance(instance: str) -> None:
    show(client().instances.get(instance))


def _action(verb: str, instance: str) -> None:
    with console.status(f"{verb} {instance}"):
        inst = getattr(client().instances, verb)(instance)
    show(inst, COLUMNS) if isinstance(inst, list) else show(inst)


@instances_app.command("stop")
@handle_errors
def stop(instance: str) -> None:
    _action("stop", instance)


@instances_app.command("start")
@handle_errors
def start(instance: str) -> None:
    _action("start", instance)


@instances_app.command("reboot")
@handle_errors
def reboot(instance: str) -> None:
    _action("reboot", instance)


@instances_app.command("pause")
@handle_errors
def pause(instance: str) -> None:
    """Pause a VM (backend vm): its vCPUs halt, memory and disks kept."""
    _action("pause", instance)


@instances_app.command("resume")
@handle_errors
def resume(instance: str) -> None:
    """Resume a paused VM."""
    _action("resume", instance)


@instances_app.command("update")
@handle_errors
def update(instance: str, name: str | None = typer.Option(None, "--name"),
           ttl: int | None = typer.Option(None, "--ttl", help="seconds from now; 0 removes the limit"),
           cdrom: str | None = typer.Option(None, "--cdrom", help="a VM's CD-ROM: this ISO disk from its next boot"),
           eject: bool = typer.Option(False, "--eject", help="a VM's CD-ROM: eject it (at once when it runs)")) -> None:
    """Rename an instance, change its time to live, or change a VM's CD-ROM."""
    fields: dict[str, object] = {}
    if cdrom or eject:
        fields["cdrom"] = None if eject else cdrom
    if name:
        fields["name"] = name
    if ttl is not None:
        fields["ttl_seconds"] = ttl or None
    show(client().instances.update(instance, **fields))


@instances_app.command("terminate")
@handle_errors
def terminate(instance: str, yes: bool = output.YES) -> None:
    """Delete an instance and its container (attached volumes are kept)."""
    output.confirm(f"Terminate instance {instance}?", yes)
    with console.status(f"terminating {instance}"):
        client().instances.terminate(instance)
    console.print(f"terminated {instance}")


@instances_app.command("logs")
@handle_errors
def logs(instance: str, tail: int = typer.Option(100, "--tail", "-n")) -> None:
    sys.stdout.write(client().instances.logs(instance, tail=tail))


@instances_app.command("metrics")
@handle_errors
def metrics(instance: str, since: str | None = typer.Option(None, "--since", help="ISO time (default: the last hour)")) -> None:
    """The recorded CPU and memory of an instance, a point per sampling interval."""
    output.show_series(client().volumes.metrics(instance, since))


@instances_app.command("stats")
@handle_errors
def stats(instance: str) -> None:
    show(client().instances.stats(instance))


@handle_errors
def ssh(instance: str) -> None:
    """An interactive shell inside a running instance (over the console WebSocket).

    With piped input (``echo 'uname -a' | cumulo ssh web``) the input runs as a script, without a
    terminal: plain output, no prompt or escape codes, and its exit code."""
    if not sys.stdin.isatty():
        _script(instance)
        return
    cols, rows = shutil.get_terminal_size((80, 24))
    from websockets.exceptions import ConnectionClosed

    with client().instances.console(instance, cols, rows) as ws:
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        tty.setraw(fd)
        try:
            threading.Thread(target=_stdin_to, args=(ws,), daemon=True).start()
            for message in ws:
                if isinstance(message, str):
                    _maybe_error(message)
                    break
                os.write(sys.stdout.fileno(), message)
        except ConnectionClosed:
            pass
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _stdin_to(ws: ClientConnection) -> None:
    try:
        while data := os.read(sys.stdin.fileno(), 4096):
            ws.send(data)
    except Exception:  # noqa: BLE001, S110 - the session ended: nothing to report
        pass


def _script(instance: str) -> None:
    script = sys.stdin.read()
    if len(script) > 65536:
        err_console.print("[red]error:[/] piped input over 64 KiB: copy a file in and run it with `cumulo exec`")
        raise typer.Exit(2)
    out = client().instances.exec(instance, ["/bin/sh", "-c", script], timeout=600)
    sys.stdout.write(out["stdout"])
    sys.stdout.flush()
    sys.stderr.write(out["stderr"])
    if out["timed_out"]:
        err_console.print("[red]error:[/] the script was killed after 600 s")
        raise typer.Exit(124)
    raise typer.Exit(out["exit_code"] or 0)


def _maybe_error(text: str) -> None:
    try:
        err = json.loads(text)["error"]
    except (ValueError, KeyError, TypeError):
        return
    err_console.print(f"[red]error {err.get('code')}:[/] {err.get('message')}")
    raise typer.Exit(1)


@handle_errors
def exec_(instance: str = typer.Argument(..., help="instance id or name"),
          command: list[str] = typer.Argument(..., help="the command and its arguments, after --"),
          timeout: int = typer.Option(60, "--timeout", "-t", min=1, max=600, help="seconds before it is killed")
          ) -> None:
    """Run a command in an instance, no TTY: its output as it is, its exit code as ours.

    Example: cumulo exec web -- sh -c 'ls /etc | wc -l'"""
    out = client().instances.exec(instance, command, timeout=timeout)
    sys.stdout.write(out["stdout"])
    sys.stdout.flush()
    sys.stderr.write(out["stderr"])
    if out["truncated"]:
        err_console.print("[yellow]note:[/] the output was longer than the server keeps (1 MiB per stream)")
    if out["timed_out"]:
        err_console.print(f"[red]error:[/] killed after {timeout}s (--timeout)")
        raise typer.Exit(124)
    raise typer.Exit(out["exit_code"] or 0)


def register(app: typer.Typer) -> None:
    app.add_typer(instances_app, name="instances")
    app.command("ssh")(ssh)
    app.command("exec")(exec_)
