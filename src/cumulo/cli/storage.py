"""`cumulo storage ...`: buckets (mb, rb, buckets), objects (put, get, ls, rm, head, presign) and S3 credentials
(`cumulo storage credentials create` prints ready-to-paste AWS_* lines)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from cumulo.cli import output
from cumulo.cli.output import handle_errors, show

BUCKET_COLUMNS = ["name", "created_at", "versioning", "public"]
OBJECT_COLUMNS = ["key", "size", "etag", "content_type", "last_modified"]
CREDENTIAL_COLUMNS = ["id", "name", "access_key_id", "created_at", "last_used"]
FILE_ARG = typer.Argument(..., exists=True, dir_okay=False, readable=True)
DEST_ARG = typer.Argument(None, help="file to write (default: stdout)")


def _split(target: str) -> tuple[str, str]:
    """'bucket/key/with/slashes' -> ('bucket', 'key/with/slashes')."""
    bucket, _, key = target.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise typer.BadParameter(f"expected <bucket>/<key>, got {target!r}")
    return bucket, key


def _chunks(path: Path, progress: Any, task: int) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            progress.update(task, advance=len(chunk))
            yield chunk


def register(app: typer.Typer) -> None:
    st = typer.Typer(help="Object storage: buckets, objects, S3 credentials", no_args_is_help=True)
    creds = typer.Typer(help="S3 access keys for boto3, the AWS CLI, rclone...", no_args_is_help=True)
    app.add_typer(st, name="storage")
    st.add_typer(creds, name="credentials")

    @st.command("mb")
    @handle_errors
    def make_bucket(name: str) -> None:
        """Create a bucket (names are global, S3 rules)."""
        with output.client() as c:
            show(c.storage.create_bucket(name))

    @st.command("buckets")
    @handle_errors
    def buckets() -> None:
        """List your buckets."""
        with output.client() as c:
            show(c.storage.buckets(), BUCKET_COLUMNS)

    @st.command("bucket")
    @handle_errors
    def bucket(name: str) -> None:
        """One bucket: versioning, public access, when it was made."""
        with output.client() as c:
            show(c.storage.bucket(name))

    @st.command("rb")
    @handle_errors
    def remove_bucket(name: str, yes: bool = output.YES) -> None:
        """Delete an empty bucket."""
        output.confirm(f"Delete bucket {name}?", yes)
        with output.client() as c:
            c.storage.delete_bucket(name)
        output.console.print(f"Deleted bucket {name}")

    @st.command("put")
    @handle_errors
    def put(file: Path = FILE_ARG,
            target: str = typer.Argument(..., help="<bucket>/<key>"),
            content_type: str = typer.Option("application/octet-stream", "--content-type")) -> None:
        """Upload a file (streamed, with progress)."""
        bucket, key = _split(target)
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        with output.client() as c, Progress(BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                                            console=output.err_console.rich, transient=True) as progress:
            task = progress.add_task("upload", total=file.stat().st_size)
            show(c.storage.put(bucket, key, _chunks(file, progress, task), content_type=content_type))

    @st.command("get")
    @handle_errors
    def get(source: str = typer.Argument(..., help="<bucket>/<key>"),
            dest: Path | None = DEST_ARG) -> None:
        """Download an object to a file or stdout (streamed)."""
        bucket, key = _split(source)
        with output.client() as c:
            if dest is None:
                c.storage.download(bucket, key, sys.stdout.buffer)
                return
            tmp = dest.with_name(dest.name + ".part")
            with tmp.open("wb") as fh:
                written = c.storage.download(bucket, key, fh)
            tmp.replace(dest)
        output.err_console.print(f"Wrote {written} bytes to {dest}")

    @st.command("ls")
    @handle_errors
    def ls(bucket: str, prefix: str = typer.Option("", "--prefix"),
           delimiter: str = typer.Option("", "--delimiter", help="e.g. / to list one folder level")) -> None:
        """List objects in a bucket."""
        with output.client() as c:
            page = c.storage.list(bucket, prefix=prefix, delimiter=delimiter)
        if output.STATE["json"]:
            show(page)
            return
        show(page["objects"], OBJECT_COLUMNS)
        for cp in page.get("common_prefixes", []):
            output.console.print(f"  PRE {cp}")

    @st.command("head")
    @handle_errors
    def head(target: str = typer.Argument(..., help="<bucket>/<key>")) -> None:
        """Show an object's size, type and ETag."""
        bucket, key = _split(target)
        with output.client() as c:
            h = c.storage.head(bucket, key)
        show({k: h.get(k.lower()) for k in ("Content-Length", "Content-Type", "ETag", "Last-Modified")})

    @st.command("presign")
    @handle_errors
    def presign(target: str = typer.Argument(..., help="<bucket>/<key>"),
                expires: int = typer.Option(3600, "--expires", help="seconds the link works (1 to 604800, 7 days)"),
                access_key_id: str | None = typer.Option(None, "--access-key-id",
                                                         help="the S3 credential that signs it (default: your newest)"),
                ) -> None:
        """Print a link that downloads an object without a key (plain GET on the S3 endpoint) until it expires."""
        bucket, key = _split(target)
        with output.client() as c:
            out = c.storage.presign(bucket, key, expires, access_key_id)
        if output.STATE["json"]:
            show(out)
            return
        typer.echo(out["url"])
        output.err_console.print(f"Works until {out['expires_at']} (signed with {out['access_key_id']}; "
                                 "revoking that credential ends it).")

    @st.command("rm")
    @handle_errors
    def rm(target: str = typer.Argument(..., help="<bucket>/<key>"), yes: bool = output.YES) -> None:
        """Delete an object."""
        bucket, key = _split(target)
        output.confirm(f"Delete {bucket}/{key}?", yes)
        with output.client() as c:
            c.storage.delete(bucket, key)
        output.console.print(f"Deleted {bucket}/{key}")

    @creds.command("create")
    @handle_errors
    def create_credentials(name: str = typer.Option("", "--name")) -> None:
        """Create an S3 access key; prints shell lines to paste (the secret is shown only now)."""
        with output.client() as c:
            out = c.storage.create_credentials(name)
        if output.STATE["json"]:
            show(out)
            return
        typer.echo(f"export AWS_ACCESS_KEY_ID={out['access_key_id']}")
        typer.echo(f"export AWS_SECRET_ACCESS_KEY={out['secret_access_key']}")
        typer.echo(f"export AWS_DEFAULT_REGION={out['region']}")
        typer.echo(f"export AWS_ENDPOINT_URL={out['endpoint_url']}")
        output.err_console.print("The secret is shown only once. Use it with boto3, the AWS CLI "
                                 f"(aws --endpoint-url {out['endpoint_url']} s3 ls) or any S3 client.")

    @creds.command("list")
    @handle_errors
    def list_credentials() -> None:
        """List your S3 access keys (never their secrets)."""
        with output.client() as c:
            show(c.storage.credentials(), CREDENTIAL_COLUMNS)

    @creds.command("delete")
    @handle_errors
    def delete_credentials(ident: str = typer.Argument(..., help="id or access key id"),
                           yes: bool = output.YES) -> None:
        """Revoke an S3 access key."""
        output.confirm(f"Revoke S3 access key {ident}? Whatever uses it stops working.", yes)
        with output.client() as c:
            c.storage.delete_credentials(ident)
        output.console.print(f"Revoked {ident}")
