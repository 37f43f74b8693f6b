"""`cumulo topics ...` and `cumulo subscriptions ...` (with the delivery log)."""

from __future__ import annotations

import typer

from cumulo.cli import output
from cumulo.cli.output import handle_errors, show
from cumulo.cli.queues import _attrs, parse_json

SUB_COLUMNS = ["id", "topic_id", "protocol", "endpoint", "filter_policy"]


def register(app: typer.Typer) -> None:
    topics = typer.Typer(help="Pub/sub topics", no_args_is_help=True)
    subs = typer.Typer(help="Topic subscriptions (webhook, queue) and their delivery log", no_args_is_help=True)
    app.add_typer(topics, name="topics")
    app.add_typer(subs, name="subscriptions")

    @topics.command("create")
    @handle_errors
    def create(name: str) -> None:
        """Create a topic."""
        with output.client() as c:
            show(c.notify.create_topic(name))

    @topics.command("list")
    @handle_errors
    def list_() -> None:
        """List your topics."""
        with output.client() as c:
            show(c.notify.topics(), ["id", "name", "subscriptions", "created_at"])

    @topics.command("show")
    @handle_errors
    def show_topic(topic: str) -> None:
        """Show a topic (id or name) with its subscriptions."""
        with output.client() as c:
            found = c.notify.topic(topic)
            subscriptions = [s for s in c.notify.subscriptions() if s.get("topic_id") == found["id"]]
        if output.STATE["json"]:
            show({**found, "subscription_list": subscriptions})
            return
        show(found)
        if subscriptions:
            show(subscriptions, SUB_COLUMNS, title="Subscriptions")

    @topics.command("delete")
    @handle_errors
    def delete(topic: str, yes: bool = output.YES) -> None:
        """Delete a topic with its subscriptions."""
        output.confirm(f"Delete topic {topic} and its subscriptions?", yes)
        with output.client() as c:
            c.notify.delete_topic(topic)
        output.console.print(f"deleted topic {topic}")

    @topics.command("publish")
    @handle_errors
    def publish(topic: str, message: str, subject: str | None = typer.Option(None),
                attribute: list[str] = typer.Option([], "--attribute", "-a", help="key=value, repeatable")) -> None:
        """Publish a message; delivery happens in the background."""
        with output.client() as c:
            show(c.notify.publish(topic, message, subject, _attrs(attribute) or None))

    @subs.command("create")
    @handle_errors
    def subscribe(topic: str, protocol: str = typer.Option(..., help="webhook or queue"),
                  endpoint: str = typer.Option(..., help="URL, or queue id/name"),
                  filter_policy: str | None = typer.Option(None, help="JSON filter policy"),
                  raw: bool = typer.Option(False, "--raw", help="deliver the bare message, not the envelope"),
                  max_attempts: int | None = typer.Option(None), dead_letter_queue: str | None = typer.Option(None)) -> None:
        """Subscribe an endpoint to a topic. The signing secret is shown only now."""
        options: dict[str, object] = {"raw_message_delivery": raw}
        if filter_policy:
            options["filter_policy"] = parse_json(filter_policy)
        if max_attempts:
            options["delivery_policy"] = {"max_attempts": max_attempts}
        if dead_letter_queue:
            options["dead_letter_queue"] = dead_letter_queue
        with output.client() as c:
            show(c.notify.subscribe(topic, protocol, endpoint, **options))

    @subs.command("list")
    @handle_errors
    def subs_list(topic: str | None = typer.Option(None, help="only this topic")) -> None:
        """List your subscriptions."""
        with output.client() as c:
            show(c.notify.subscriptions(topic), SUB_COLUMNS)

    @subs.command("show")
    @handle_errors
    def subs_show(subscription_id: str) -> None:
        """One subscription: its topic, protocol, endpoint and options."""
        with output.client() as c:
            show(c.notify.subscription(subscription_id))

    @subs.command("delete")
    @handle_errors
    def unsubscribe(subscription_id: str, yes: bool = output.YES) -> None:
        """Delete a subscription."""
        output.confirm(f"Delete subscription {subscription_id}?", yes)
        with output.client() as c:
            c.notify.unsubscribe(subscription_id)
        output.console.print(f"deleted subscription {subscription_id}")

    @subs.command("deliveries")
    @handle_errors
    def deliveries(subscription_id: str, limit: int = typer.Option(20),
                   status: str | None = typer.Option(None, help="pending, delivered, failed or dead_lettered")) -> None:
        """The delivery log of a subscription."""
        with output.client() as c:
            rows = c.notify.deliveries(subscription_id, limit, status)
        show(rows if output.STATE["json"] else [{**r, "log": len(r["log"])} for r in rows],
             ["message_id", "status", "attempts", "last_status_code", "last_error", "created_at"])
