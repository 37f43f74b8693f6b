"""``cumulo volumes ...``: block volumes, attachments and snapshots."""

from __future__ import annotations

from typing import Any

import typer

from cumulo.cli import output

COLUMNS = ["id", "name", "size_gb", "status", "instance_id", "mount_path", "created_at"]
SNAPSHOT_COLUMNS = ["id", "volume_name", "size_gb", "status", "bytes", "description", "created_at"]


def _show_attachment(answer: dict[str, Any]) -> None:
    """The volume, then what happened to the instance (its root filesystem is reset by the recreation)."""
    output.show(answer)
    if not output.STATE["json"]:
        for warning in answer.get("warnings") or []:
            output.err_console.print(f"[bold yellow]warning:[/] {warning}")


def register(app: typer.Typer) -> None:
    volumes = typer.Typer(help="Block volumes: persistent, size-limited disks for instances", no_args_is_help=True)
    app.add_typer(volumes, name="volumes")

    @volumes.command("create")
    @output.handle_errors
    def create(name: str, size: int = typer.Option(..., "--size", help="size in GiB")) -> None:
        """Create a volume."""
        with output.client() as c, output.console.status(f"creating {size} GiB volume {name}..."):
            output.show(c.volumes.create(name, size))

    @volumes.command("list")
    @output.handle_errors
    def list_() -> None:
        """List your volumes."""
        with output.client() as c:
            output.show(c.volumes.list(), COLUMNS)

    @volumes.command("show")
    @output.handle_errors
    def show(volume: str) -> None:
        """Show a volume (id or name)."""
        with output.client() as c:
            output.show(c.volumes.get(volume))

    @volumes.command("delete")
    @output.handle_errors
    def delete(volume: str, yes: bool = output.YES) -> None:
        """Delete a volume and its data (refused while attached)."""
        output.confirm(f"Delete volume {volume} and its data?", yes)
        with output.client() as c:
            c.volumes.delete(volume)
        output.show(f"deleted {volume}")

    @volumes.command("attach")
    @output.handle_errors
    def attach(volume: str, instance: str, mount_path: str = typer.Option(..., "--path", help="e.g. /data")) -> None:
        """Attach a volume to an instance (its container is re-created with the mount: the root filesystem
        is reset to the image; address and host ports are kept)."""
        with output.client() as c:
            _show_attachment(c.volumes.attach(volume, instance, mount_path))

    @volumes.command("detach")
    @output.handle_errors
    def detach(volume: str) -> None:
        """Detach a volume from its instance."""
        with output.client() as c:
            _show_attachment(c.volumes.detach(volume))

    @volumes.command("snapshot")
    @output.handle_errors
    def snapshot(volume: str, description: str = typer.Option("", "--description", "-d")) -> None:
        """Snapshot a volume's files."""
        with output.client() as c, output.console.status(f"snapshotting {volume}..."):
            output.show(c.volumes.snapshot(volume, description))

    @volumes.command("snapshots")
    @output.handle_errors
    def snapshots(volume: str | None = typer.Option(None, "--volume", help="only this volume's")) -> None:
        """List snapshots."""
        with output.client() as c:
            output.show(c.volumes.snapshots(volume), SNAPSHOT_COLUMNS)

    @volumes.command("show-snapshot")
    @output.handle_errors
    def show_snapshot(snapshot: str) -> None:
        """One snapshot: its volume, size, status and description."""
        with output.client() as c:
            output.show(c.volumes.get_snapshot(snapshot))

    @volumes.command("restore")
    @output.handle_errors
    def restore(snapshot: str, name: str = typer.Option(..., "--name", help="name of the new volume")) -> None:
        """Restore a snapshot into a new volume."""
        with output.client() as c, output.console.status(f"restoring {snapshot} into {name}..."):
            output.show(c.volumes.restore(snapshot, name))

    @volumes.command("delete-snapshot")
    @output.handle_errors
    def delete_snapshot(snapshot: str, yes: bool = output.YES) -> None:
        """Delete a snapshot."""
        output.confirm(f"Delete snapshot {snapshot}?", yes)
        with output.client() as c:
            c.volumes.delete_snapshot(snapshot)
        output.show(f"deleted {snapshot}")
