"""`cumulo queues ...`: create, list, show, update, delete, send, receive --wait, delete-message, purge,
stats, redrive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from cumulo.cli import output
from cumulo.cli.output import handle_errors, show

COLUMNS = ["id", "name", "visibility_timeout", "retention_seconds", "delay_seconds", "dead_letter"]


def _attrs(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"attributes are key=value, got {pair!r}")
        out[key] = value
    return out


def _batch(source: str, delay: int | None, attributes: dict[str, Any]) -> list[dict[str, Any]]:
    import sys

    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    stripped = text.strip()
    items: list[Any]
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except ValueError as exc:
            raise typer.BadParameter(f"--batch: not a JSON array ({exc})") from None
    else:
        items = [line for line in text.splitlines() if line.strip()]
    if not items:
        raise typer.BadParameter("--batch: no messages in the file")
    messages = []
    for item in items:
        message = {"body": item} if isinstance(item, str) else item
        if not isinstance(message, dict) or not isinstance(message.get("body"), str):
            raise typer.BadParameter("--batch: each message is a string or an object with a 'body' string")
        if delay is not None:
            message.setdefault("delay_seconds", delay)
        if attributes:
            message.setdefault("attributes", attributes)
        messages.append(message)
    return messages


def register(app: typer.Typer) -> None:
    q = typer.Typer(help="Message queues (SQS-style)", no_args_is_help=True)
    app.add_typer(q, name="queues")

    @q.command("create")
    @handle_errors
    def create(name: str,
               visibility_timeout: int | None = typer.Option(None, help="seconds a received message stays hidden"),
               retention: int | None = typer.Option(None, "--retention", help="seconds a message is kept"),
               delay: int | None = typer.Option(None, "--delay", help="seconds before a new message is visible"),
               wait: int | None = typer.Option(None, "--wait", help="default long-poll seconds (0-20)"),
               max_message_size: int | None = typer.Option(None, help="bytes"),
               dead_letter: str | None = typer.Option(None, help="dead-letter queue id or name"),
               max_receive_count: int = typer.Option(5, help="receives before a message goes to the DLQ")) -> None:
        """Create a queue."""
        attrs = {"visibility_timeout": visibility_timeout, "retention_seconds": retention, "delay_seconds": delay,
                 "receive_wait_seconds": wait, "max_message_size": max_message_size}
        body: dict[str, object] = {k: v for k, v in attrs.items() if v is not None}
        if dead_letter:
            body["dead_letter"] = {"queue_id": dead_letter, "max_receive_count": max_receive_count}
        with output.client() as c:
            show(c.queues.create(name, **body))

    @q.command("list")
    @handle_errors
    def list_() -> None:
        """List your queues."""
        with output.client() as c:
            show(c.queues.list(), COLUMNS)

    @q.command("show")
    @handle_errors
    def show_(queue: str) -> None:
        """Show a queue's attributes and stats."""
        with output.client() as c:
            show({**c.queues.get(queue), "stats": c.queues.stats(queue)})

    @q.command("change-visibility")
    @handle_errors
    def change_visibility(queue: str, receipt_handle: str,
                          seconds: int = typer.Argument(..., help="from now until the message is visible again "
                                                                  "(0: at once)")) -> None:
        """Hide a received message for longer (or release it now) while you work on it."""
        with output.client() as c:
            c.queues.change_visibility(queue, receipt_handle, seconds)
        show({"receipt_handle": receipt_handle, "visibility_timeout": seconds} if output.STATE["json"]
             else f"message visible again in {seconds} s")

    @q.command("update")
    @handle_errors
    def update(queue: str, visibility_timeout: int | None = typer.Option(None), retention: int | None = typer.Option(None),
               delay: int | None = typer.Option(None), wait: int | None = typer.Option(None)) -> None:
        """Change a queue's attributes."""
        attrs = {"visibility_timeout": visibility_timeout, "retention_seconds": retention, "delay_seconds": delay,
                 "receive_wait_seconds": wait}
        with output.client() as c:
            show(c.queues.update(queue, **{k: v for k, v in attrs.items() if v is not None}))

    @q.command("delete")
    @handle_errors
    def delete(queue: str, yes: bool = output.YES) -> None:
        """Delete a queue and its messages."""
        output.confirm(f"Delete queue {queue} and all its messages?", yes)
        with output.client() as c:
            c.queues.delete(queue)
        output.console.print(f"deleted queue {queue}")

    @q.command("send")
    @handle_errors
    def send(queue: str, body: str | None = typer.Argument(None, help="the message (or use --batch)"),
             delay: int | None = typer.Option(None, "--delay"),
             attribute: list[str] = typer.Option([], "--attribute", "-a", help="key=value, repeatable"),
             batch: str | None = typer.Option(None, "--batch",
                                              help="a file ('-': the input) of messages: one per line, or a JSON "
                                                   "array of bodies or {body, delay_seconds, attributes}; sent 10 "
                                                   "at a time")) -> None:
        """Send a message, or many with --batch."""
        if body is not None and batch is None:
            with output.client() as c:
                show(c.queues.send(queue, body, delay_seconds=delay, attributes=_attrs(attribute) or None))
            return
        if body is not None or batch is None:
            output.err_console.print("error: give a message BODY or --batch FILE (not both)")
            raise typer.Exit(2)
        with output.client() as c:
            messages = _batch(batch, delay, _attrs(attribute))
            sent = [m for i in range(0, len(messages), 10) for m in c.queues.send_batch(queue, messages[i:i + 10])]
        show(sent, ["message_id", "md5_of_body"], title=f"{len(sent)} messages sent")

    @q.command("receive")
    @handle_errors
    def receive(queue: str, max_messages: int = typer.Option(1, "--max", "-n", min=1, max=10),
                wait: int | None = typer.Option(None, "--wait", "-w", min=0, max=20, help="long-poll seconds"),
                visibility_timeout: int | None = typer.Option(None),
                delete: bool = typer.Option(False, "--delete", help="delete what was received")) -> None:
        """Receive messages (they stay hidden for the visibility timeout unless deleted)."""
        with output.client() as c:
            with output.console.status("waiting for messages...", spinner="dots") if wait else _null():
                got = c.queues.receive(queue, max_messages, wait, visibility_timeout)
            if delete and got:
                c.queues.delete_batch(queue, [m["receipt_handle"] for m in got])
        if output.STATE["json"]:
            show(got)
        elif not got:
            output.console.print("no messages")
        else:
            show(got, ["message_id", "body", "received_count", "receipt_handle"])

    @q.command("delete-message")
    @handle_errors
    def delete_message(queue: str, receipt_handle: str) -> None:
        """Delete a received message by its (latest) receipt handle."""
        with output.client() as c:
            c.queues.delete_message(queue, receipt_handle)
        output.console.print("deleted")

    @q.command("purge")
    @handle_errors
    def purge(queue: str, yes: bool = output.YES) -> None:
        """Delete every message of a queue."""
        output.confirm(f"Delete every message of queue {queue}?", yes)
        with output.client() as c:
            show({"purged": c.queues.purge(queue)})

    @q.command("stats")
    @handle_errors
    def stats(queue: str) -> None:
        """Visible, in-flight and delayed messages, and the age of the oldest."""
        with output.client() as c:
            show(c.queues.stats(queue))

    @q.command("redrive")
    @handle_errors
    def redrive(queue: str, to: str | None = typer.Option(None, "--to", help="destination queue (default: source)")) -> None:
        """Move messages of a dead-letter queue back to where they came from."""
        with output.client() as c:
            show({"moved": c.queues.redrive(queue, to)})


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def parse_json(value: str | None) -> object:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not valid JSON: {exc}") from None
