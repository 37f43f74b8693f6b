"""``cumulo images bootstrap|list|show|build|delete``."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import typer

from cumulo.cli import output
from cumulo.cli.output import STATE, client, console, err_console, handle_errors, show

images_app = typer.Typer(help="Images: Cumulo's catalogue (built locally) and your own builds.", no_args_is_help=True)
COLUMNS = ["id", "name", "tag", "status", "size_mb", "owner", "description"]


# First-build estimates (seconds on a 2-core machine with a nearby mirror); later runs use the last build's time.
FIRST_ESTIMATES = {"cumulo/debian": 150.0, "cumulo/busybox": 5.0}
DEFAULT_ESTIMATE = 90.0


def _estimates_path() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cumulo" / "bootstrap-times.json"


def _saved_times() -> dict[str, float]:
    try:
        saved = json.loads(_estimates_path().read_text())
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in saved.items() if isinstance(v, int | float)} if isinstance(saved, dict) else {}


def _estimates() -> dict[str, float]:
    return {**FIRST_ESTIMATES, **_saved_times()}


def _save_estimates(seconds: dict[str, float]) -> None:
    if seconds:
        try:
            path = _estimates_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({**_saved_times(), **seconds}))
        except OSError:
            pass


@images_app.command("bootstrap")
def bootstrap(
    registry_pull: bool | None = typer.Option(None, "--registry-pull/--no-registry-pull", envvar="CUMULO_REGISTRY_PULL",
                                       help="try a registry pull before building locally"),
    only: list[str] | None = typer.Option(None, "--only", help="build only these images (repeatable)"),
    every: bool = typer.Option(False, "--all", help="build the on-demand images too (cumulo/desktop, ~5 min), "
                                                    "which are otherwise built at their first launch"),
) -> None:
    """Build Cumulo's base images from the OS package mirror (cached: a second run is instant).
    cumulo/desktop is built at the first launch of an instance from it, unless --all (or --only) names it."""
    import asyncio

    from rich.live import Live
    from rich.table import Table

    from cumulo.core.config import Settings
    from cumulo.drivers.compute.docker import DockerDriver
    from cumulo.services.images.bootstrap import bootstrap as run_bootstrap

    settings = Settings()
    driver = DockerDriver(settings.docker_host)
    last: dict[str, str] = {}
    began: dict[str, float] = {}
    estimates = _estimates()

    def table() -> Table:
        t = Table(title="cumulo images bootstrap (first run: a few minutes; cached afterwards)", show_lines=False)
        t.add_column("image")
        t.add_column("elapsed / estimate", no_wrap=True)
        t.add_column("progress", overflow="ellipsis", no_wrap=True, max_width=80)
        for name, line in last.items():
            elapsed = time.monotonic() - began[name]
            t.add_row(name, f"{elapsed:.0f}s / ~{estimates.get(name, DEFAULT_ESTIMATE):.0f}s", line)
        return t

    live = Live(table(), console=err_console.rich, refresh_per_second=4, transient=True)

    def report(image: str, line: str) -> None:
        if line.strip():
            began.setdefault(image, time.monotonic())
            last[image] = line.strip()
            if not live.is_started:  # only when something is built: a cached run prints no live table
                live.start()
            live.update(table())

    pull = settings.registry_pull if registry_pull is None else registry_pull
    try:
        results = asyncio.run(run_bootstrap(driver, registry_pull=pull, only=only or None, report=report, every=every))
    finally:
        if live.is_started:
            live.stop()
    driver.close()
    _save_estimates({r.image: r.seconds for r in results if r.action == "built"})
    rows = [{"image": r.image, "result": r.action, "seconds": r.seconds, "error": r.error or ""} for r in results]
    show(rows, ["image", "result", "seconds", "error"])
    if any(r.action == "failed" for r in results):
        err_console.print("[red]error:[/] some images could not be built")
        raise typer.Exit(1)


@images_app.command("list")
@handle_errors
def list_images() -> None:
    """The catalogue plus your own images."""
    show(client().images.list(), COLUMNS)


@images_app.command("show")
@handle_errors
def show_image(image: str) -> None:
    show(client().images.get(image))


@images_app.command("log")
@handle_errors
def image_log(image: str) -> None:
    """The build log of an image (yours or the catalogue's)."""
    sys.stdout.write(client().images.log(image))


@images_app.command("build")
@handle_errors
def build(
    name: str = typer.Argument(..., help="image name, e.g. myapp or myapp:v2"),
    dockerfile: Path = typer.Option(Path("Dockerfile"), "--file", "-f", help="the Dockerfile"),
    context: list[Path] | None = typer.Option(None, "--context-file", "-c", help="a file to put next to the Dockerfile"),
) -> None:
    """Build an image of your own from a Dockerfile (the build log streams as it runs)."""
    repo, _, tag = name.partition(":")
    files = {p.name: p.read_text() for p in context or []}
    final: dict[str, Any] | None = None
    with console.status(f"building {name}") as status:
        for event in client().images.build(repo, dockerfile.read_text(), tag=tag or "latest", files=files):
            if "log" in event:
                line = event["log"].rstrip()
                if line:
                    status.update(f"building {name}: {line[:100]}")
                    if not STATE["json"]:
                        err_console.print(f"[dim]{line}[/]", highlight=False)
            else:
                final = event
    if final and "error" in final:
        err_console.print(f"[red]error:[/] {final['error'].get('message')}")
        raise typer.Exit(1)
    if final:
        show(final["image"]) if not STATE["json"] else sys.stdout.write(json.dumps(final["image"]) + "\n")


@images_app.command("delete")
@handle_errors
def delete(image: str, yes: bool = output.YES) -> None:
    """Delete one of your images."""
    output.confirm(f"Delete image {image}?", yes)
    client().images.delete(image)
    console.print(f"deleted image {image}")


def register(app: typer.Typer) -> None:
    app.add_typer(images_app, name="images")
