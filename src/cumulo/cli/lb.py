"""``cumulo lb create|list|show|update|targets add|targets remove|metrics|delete``: load balancers."""

from __future__ import annotations

from typing import Any

import typer

from cumulo.cli import output

COLUMNS = ["id", "name", "url", "algorithm", "in_service", "fail_open", "status_message"]
TARGET_COLUMNS = ["id", "instance_id", "port", "weight", "address", "health", "in_service", "reason"]
JSON = typer.Option(False, "--json", help="Print JSON for scripts")


def _targets(items: list[str] | None, *, weights: bool = True) -> list[dict[str, Any]]:
    """``INSTANCE:PORT[:WEIGHT]`` (instance id or name) -> target bodies."""
    out = []
    for item in items or []:
        parts = item.split(":")
        if len(parts) not in ((2, 3) if weights else (1, 2)) or not all(p.isdigit() for p in parts[1:]):
            shape = "INSTANCE:PORT[:WEIGHT]" if weights else "INSTANCE[:PORT]"
            raise typer.BadParameter(f"target {item!r}: use {shape}")
        body: dict[str, Any] = {"instance_id": parts[0]}
        if len(parts) > 1:
            body["port"] = int(parts[1])
        if len(parts) > 2:
            body["weight"] = int(parts[2])
        out.append(body)
    return out


def _show_lb(lb: dict[str, Any]) -> None:
    if output.STATE["json"]:
        output.show(lb)
        return
    output.show({k: v for k, v in lb.items() if k != "targets"})
    output.show(lb.get("targets", []), TARGET_COLUMNS, title="targets")


def _json(flag: bool) -> None:
    if flag:
        output.STATE["json"] = True


def register(app: typer.Typer) -> None:
    lb = typer.Typer(help="Load balancers: HTTP traffic spread over your instances, with health checks",
                     no_args_is_help=True)
    targets = typer.Typer(help="Register or deregister a load balancer's targets", no_args_is_help=True)
    app.add_typer(lb, name="lb")
    lb.add_typer(targets, name="targets")

    @lb.command("create")
    @output.handle_errors
    def create(
        name: str,
        target: list[str] | None = typer.Option(None, "--target", "-t", help="INSTANCE:PORT[:WEIGHT] (repeatable)"),
        port: int | None = typer.Option(None, "--port", help="listen on this dedicated port instead of a hostname"),
        hostname: str | None = typer.Option(None, "--hostname", help="a custom hostname (default: generated)"),
        algorithm: str | None = typer.Option(None, "--algorithm", "-a",
                                      help="round_robin, least_conn, ip_hash, random or first"),
        health_path: str | None = typer.Option(None, "--health-path", help="health check path (default /)"),
        interval: float | None = typer.Option(None, "--interval", help="seconds between checks (default 30)"),
        timeout: float | None = typer.Option(None, "--timeout", help="seconds a check may take (default 5)"),
        healthy: int | None = typer.Option(None, "--healthy-threshold", help="passes to come back (default 5)"),
        unhealthy: int | None = typer.Option(None, "--unhealthy-threshold", help="failures to go out (default 2)"),
        matcher: str | None = typer.Option(None, "--matcher", help="healthy status codes (default 200-399)"),
        sticky: str | None = typer.Option(None, "--sticky", help="pin clients to a target with this cookie name"),
        delay: int | None = typer.Option(None, "--deregistration-delay", help="seconds a removed target drains (300)"),
        json_out: bool = JSON,
    ) -> None:
        """Create a load balancer (prints its url)."""
        _json(json_out)
        health = {k: v for k, v in (("path", health_path), ("interval_seconds", interval),
                                    ("timeout_seconds", timeout), ("healthy_threshold", healthy),
                                    ("unhealthy_threshold", unhealthy), ("matcher", matcher)) if v is not None}
        with output.client() as c:
            _show_lb(c.lb.create(name, targets=_targets(target), port=port, hostname=hostname, algorithm=algorithm,
                                 health_check=health or None, sticky={"cookie_name": sticky} if sticky else None,
                                 deregistration_delay_seconds=delay))

    @lb.command("list")
    @output.handle_errors
    def list_lbs(json_out: bool = JSON) -> None:
        """List your load balancers."""
        _json(json_out)
        with output.client() as c:
            output.show(c.lb.list(), COLUMNS)

    @lb.command("show")
    @output.handle_errors
    def show(lb_ref: str = typer.Argument(..., metavar="LB", help="id or name"), json_out: bool = JSON) -> None:
        """Show a load balancer and the health of each target."""
        _json(json_out)
        with output.client() as c:
            _show_lb(c.lb.get(lb_ref))

    @lb.command("update")
    @output.handle_errors
    def update(
        lb_ref: str = typer.Argument(..., metavar="LB", help="id or name"),
        name: str | None = typer.Option(None, "--name"),
        hostname: str | None = typer.Option(None, "--hostname", help="a custom hostname"),
        algorithm: str | None = typer.Option(None, "--algorithm", "-a",
                                             help="round_robin, least_conn, ip_hash, random or first"),
        health_path: str | None = typer.Option(None, "--health-path"),
        interval: float | None = typer.Option(None, "--interval", help="seconds between checks"),
        timeout: float | None = typer.Option(None, "--timeout", help="seconds a check may take"),
        healthy: int | None = typer.Option(None, "--healthy-threshold"),
        unhealthy: int | None = typer.Option(None, "--unhealthy-threshold"),
        matcher: str | None = typer.Option(None, "--matcher", help="healthy status codes, e.g. 200-399"),
        sticky: str | None = typer.Option(None, "--sticky", help="pin clients to a target with this cookie name"),
        delay: int | None = typer.Option(None, "--deregistration-delay", help="seconds a removed target drains"),
        target: list[str] | None = typer.Option(None, "--target", "-t",
                                                help="INSTANCE:PORT[:WEIGHT] (repeatable): the whole new target list"),
        json_out: bool = JSON,
    ) -> None:
        """Change a load balancer; fields not given stay as they are."""
        _json(json_out)
        health = {k: v for k, v in (("path", health_path), ("interval_seconds", interval),
                                    ("timeout_seconds", timeout), ("healthy_threshold", healthy),
                                    ("unhealthy_threshold", unhealthy), ("matcher", matcher)) if v is not None}
        fields: dict[str, Any] = {k: v for k, v in (("name", name), ("hostname", hostname), ("algorithm", algorithm),
                                                   ("deregistration_delay_seconds", delay)) if v is not None}
        if health:
            fields["health_check"] = health
        if sticky:
            fields["sticky"] = {"cookie_name": sticky}
        if target:
            fields["targets"] = _targets(target)
        if not fields:
            raise typer.BadParameter("nothing to change (see --help)")
        with output.client() as c:
            _show_lb(c.lb.update(lb_ref, **fields))

    @lb.command("metrics")
    @output.handle_errors
    def metrics(lb_ref: str = typer.Argument(..., metavar="LB"), json_out: bool = JSON) -> None:
        """Requests, answers by status class and latency of a load balancer."""
        _json(json_out)
        with output.client() as c:
            output.show(c.lb.metrics(lb_ref))

    @lb.command("delete")
    @output.handle_errors
    def delete(lb_ref: str = typer.Argument(..., metavar="LB"), json_out: bool = JSON, yes: bool = output.YES) -> None:
        """Delete a load balancer (its hostname or port is freed)."""
        _json(json_out)
        output.confirm(f"Delete load balancer {lb_ref}? Its hostname or port stops answering.", yes)
        with output.client() as c:
            c.lb.delete(lb_ref)
        output.show({"deleted": lb_ref} if output.STATE["json"] else f"deleted {lb_ref}")

    @targets.command("add")
    @output.handle_errors
    def add(lb_ref: str = typer.Argument(..., metavar="LB"),
            target: list[str] = typer.Argument(..., help="INSTANCE:PORT[:WEIGHT]"), json_out: bool = JSON) -> None:
        """Register targets (instance id or name and port)."""
        _json(json_out)
        with output.client() as c:
            _show_lb(c.lb.add_targets(lb_ref, _targets(target)))

    @targets.command("remove")
    @output.handle_errors
    def remove(lb_ref: str = typer.Argument(..., metavar="LB"),
               target: list[str] = typer.Argument(..., help="INSTANCE[:PORT] (no port: every port)"),
               json_out: bool = JSON) -> None:
        """Deregister targets: they drain, then go."""
        _json(json_out)
        with output.client() as c:
            _show_lb(c.lb.remove_targets(lb_ref, _targets(target, weights=False)))
