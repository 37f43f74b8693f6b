"""``cumulo disks ...``: virtual disks (qcow2, raw, vmdk, vdi) and their background operations."""

from __future__ import annotations

from typing import Any

import typer

from cumulo.cli import output

COLUMNS = ["id", "name", "format", "size_gb", "status", "progress_percent", "instance_id", "error", "created_at"]


def _follow(c: Any, answer: dict[str, Any], wait: bool) -> None:
    """Show progress of a background operation until it ends (unless ``--no-wait``)."""
    if wait and answer["status"] in ("creating", "resizing", "converting", "cloning"):
        with output.console.status(f"{answer['status']} {answer['name']}...") as status:
            answer = c.disks.wait(answer["id"], on_progress=lambda d: status.update(
                f"{d['status']} {d['name']}: {d['progress_percent']:.0f}%"))
    output.show(answer)
    if not output.STATE["json"] and answer.get("warning"):
        output.err_console.print(f"[bold yellow]warning:[/] {answer['warning']}")


WAIT = typer.Option(True, "--wait/--no-wait", help="follow the operation's progress until it ends")


def register(app: typer.Typer) -> None:
    disks = typer.Typer(help="Virtual disks: create, upload, resize, convert, rename, clone, snapshot, attach",
                        no_args_is_help=True)
    app.add_typer(disks, name="disks")

    @disks.command("create")
    @output.handle_errors
    def create(name: str, size: int | None = typer.Option(None, "--size", help="size in GiB (from an image: at "
                                                                              "least its size, the default)"),
               fmt: str = typer.Option("qcow2", "--format", help="qcow2 or raw"),
               image: str | None = typer.Option(None, "--image", help="a copy of this image's root disk "
                                                                      "(e.g. cumulo/debian)"),
               wait: bool = WAIT) -> None:
        """Create an empty disk, or one from an image (copied in the background, with progress)."""
        with output.client() as c:
            _follow(c, c.disks.create(name, size, fmt, image=image), wait)

    @disks.command("import")
    @output.handle_errors
    def import_(name: str, source: str = typer.Argument(..., help="s3://BUCKET/KEY of one of your objects"),
                version_id: str | None = typer.Option(None, "--version-id")) -> None:
        """Import a qcow2, raw or ISO image from one of your objects (refused like an upload)."""
        with output.client() as c, output.console.status(f"importing {source}..."):
            output.show(c.disks.import_image(name, source, version_id))

    @disks.command("upload")
    @output.handle_errors
    def upload(name: str, path: str) -> None:
        """Upload a qcow2 or raw image as a disk (refused when it names a backing or data file)."""
        with output.client() as c, output.console.status(f"uploading {path}..."):
            output.show(c.disks.upload(name, path))

    @disks.command("list")
    @output.handle_errors
    def list_() -> None:
        """List your disks."""
        with output.client() as c:
            output.show(c.disks.list(), COLUMNS)

    @disks.command("show")
    @output.handle_errors
    def show(disk: str) -> None:
        """Show a disk (id or name)."""
        with output.client() as c:
            output.show(c.disks.get(disk))

    @disks.command("info")
    @output.handle_errors
    def info(disk: str) -> None:
        """What qemu-img says of a disk's file: format, virtual and actual size, snapshots."""
        with output.client() as c:
            output.show(c.disks.info(disk))

    @disks.command("resize")
    @output.handle_errors
    def resize(disk: str, size: int = typer.Option(..., "--size", help="new size in GiB"),
               allow_shrink: bool = typer.Option(False, "--allow-shrink", help="allow a smaller size (data lost)"),
               wait: bool = WAIT) -> None:
        """Grow (or, with --allow-shrink, shrink) a disk."""
        with output.client() as c:
            _follow(c, c.disks.resize(disk, size, allow_shrink), wait)

    @disks.command("convert")
    @output.handle_errors
    def convert(disk: str, fmt: str = typer.Option(..., "--format", help="qcow2, raw, vmdk or vdi"),
                wait: bool = WAIT) -> None:
        """Convert a disk to another format (checked identical with qemu-img compare)."""
        with output.client() as c:
            _follow(c, c.disks.convert(disk, fmt), wait)

    @disks.command("rename")
    @output.handle_errors
    def rename(disk: str, name: str) -> None:
        """Rename a disk."""
        with output.client() as c:
            output.show(c.disks.rename(disk, name))

    @disks.command("clone")
    @output.handle_errors
    def clone(disk: str, name: str, wait: bool = WAIT) -> None:
        """Copy a disk into a new one called NAME."""
        with output.client() as c:
            _follow(c, c.disks.clone(disk, name), wait)

    @disks.command("delete")
    @output.handle_errors
    def delete(disk: str, yes: bool = output.YES) -> None:
        """Delete a disk and its data."""
        output.confirm(f"Delete disk {disk} and its data?", yes)
        with output.client() as c:
            c.disks.delete(disk)
        output.console.print(f"deleted disk {disk}")

    @disks.command("attach")
    @output.handle_errors
    def attach(disk: str, instance: str) -> None:
        """Attach a disk to a VM: the guest sees it from the VM's next boot (start or reboot)."""
        with output.client() as c:
            output.show(c.disks.attach(disk, instance))
        output.err_console.print("attached: the VM sees it from its next boot (cumulo instances reboot)")

    @disks.command("detach")
    @output.handle_errors
    def detach(disk: str) -> None:
        """Detach a disk from its VM (gone from the guest at the VM's next boot)."""
        with output.client() as c:
            output.show(c.disks.detach(disk))

    @disks.command("snapshot")
    @output.handle_errors
    def snapshot(disk: str, name: str) -> None:
        """Take an internal snapshot NAME of a qcow2 disk (not while a running VM has it open)."""
        with output.client() as c:
            output.show(c.disks.snapshot(disk, name))

    @disks.command("snapshots")
    @output.handle_errors
    def snapshots(disk: str) -> None:
        """List a disk's snapshots."""
        with output.client() as c:
            output.show(c.disks.snapshots(disk), ["name", "created_at"])

    @disks.command("revert")
    @output.handle_errors
    def revert(disk: str, name: str, yes: bool = output.YES) -> None:
        """Revert a disk to its snapshot NAME (what was written since is lost)."""
        output.confirm(f"Revert disk {disk} to snapshot {name}? Later writes are lost.", yes)
        with output.client() as c:
            output.show(c.disks.revert(disk, name))

    @disks.command("delete-snapshot")
    @output.handle_errors
    def delete_snapshot(disk: str, name: str, yes: bool = output.YES) -> None:
        """Delete a disk's snapshot NAME."""
        output.confirm(f"Delete snapshot {name} of disk {disk}?", yes)
        with output.client() as c:
            c.disks.delete_snapshot(disk, name)
        output.console.print(f"deleted snapshot {name} of disk {disk}")
