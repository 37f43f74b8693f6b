"""``cumulo autoscaling create|list|show|activities|set-desired|delete``: auto-scaling groups."""

from __future__ import annotations

from typing import Any

import typer

from cumulo.cli import output

COLUMNS = ["id", "name", "status", "min_size", "desired_capacity", "max_size", "current_capacity"]
MEMBER_COLUMNS = ["name", "instance_id", "state", "status", "address", "in_load_balancer", "warming_up"]
ACTIVITY_COLUMNS = ["time", "status", "from_capacity", "to_capacity", "cause", "description"]
JSON = typer.Option(False, "--json", help="Print JSON for scripts")


def _json(flag: bool) -> None:
    if flag:
        output.STATE["json"] = True


def _policy(item: str) -> dict[str, Any]:
    metric, sep, value = item.partition("=")
    try:
        target = float(value)
    except ValueError:
        target = -1.0
    if not sep or target <= 0:
        raise typer.BadParameter(f"policy {item!r}: use METRIC=TARGET, e.g. cpu_percent=50")
    return {"type": "target_tracking", "metric": metric, "target_value": target}


def _show(group: dict[str, Any]) -> None:
    if output.STATE["json"]:
        output.show(group)
        return
    output.show({k: v for k, v in group.items() if k not in ("members", "launch_template")})
    output.show(group.get("members", []), MEMBER_COLUMNS, title="members")


def register(app: typer.Typer) -> None:
    asg = typer.Typer(help="Auto-scaling groups: instances from a template, scaled on CPU, memory or requests",
                      no_args_is_help=True)
    app.add_typer(asg, name="autoscaling")

    @asg.command("create")
    @output.handle_errors
    def create(
        name: str,
        image: str = typer.Option(..., "--image", "-i"),
        command: list[str] | None = typer.Option(None, "--command"),
        cpus: float | None = typer.Option(None, "--cpus"),
        memory: int | None = typer.Option(None, "--memory"),
        vpc: str | None = typer.Option(None, "--vpc"),
        min_size: int = typer.Option(1, "--min"),
        max_size: int = typer.Option(..., "--max"),
        desired: int | None = typer.Option(None, "--desired"),
        policy: list[str] | None = typer.Option(None, "--policy", help="METRIC=TARGET: cpu_percent, memory_percent or "
                                         "requests_per_target (repeatable)"),
        lb: str | None = typer.Option(None, "--lb"),
        target_port: int | None = typer.Option(None, "--target-port"),
        cooldown: int | None = typer.Option(None, "--cooldown"),
        warmup: int | None = typer.Option(None, "--warmup"),
        stabilization: int | None = typer.Option(None, "--scale-in-stabilization"),
        protect: bool = typer.Option(False, "--scale-in-protection"),
        json_out: bool = JSON,
    ) -> None:
        """Create a group (its members launch in the background)."""
        _json(json_out)
        template = {k: v for k, v in (("image", image), ("command", command or None), ("cpus", cpus),
                                      ("memory_mb", memory), ("vpc_id", vpc)) if v is not None}
        with output.client() as c:
            _show(c.autoscaling.create(
                name, template, max_size=max_size, min_size=min_size, desired_capacity=desired,
                policies=[_policy(p) for p in policy or []], load_balancer_id=lb, target_port=target_port,
                cooldown_seconds=cooldown, warmup_seconds=warmup, scale_in_stabilization_seconds=stabilization,
                scale_in_protection=protect or None))

    @asg.command("list")
    @output.handle_errors
    def list_groups(json_out: bool = JSON) -> None:
        """Your auto-scaling groups."""
        _json(json_out)
        with output.client() as c:
            output.show(c.autoscaling.list(), COLUMNS)

    @asg.command("show")
    @output.handle_errors
    def show(group: str, json_out: bool = JSON) -> None:
        """A group with its members and what its last evaluation measured."""
        _json(json_out)
        with output.client() as c:
            _show(c.autoscaling.get(group))

    @asg.command("activities")
    @output.handle_errors
    def activities(group: str, limit: int = typer.Option(50, "--limit"), json_out: bool = JSON) -> None:
        """Scaling activities with their causes, newest first."""
        _json(json_out)
        with output.client() as c:
            output.show(c.autoscaling.activities(group, limit), ACTIVITY_COLUMNS)

    @asg.command("set-desired")
    @output.handle_errors
    def set_desired(group: str, desired: int, json_out: bool = JSON) -> None:
        """Set the desired capacity (within min..max)."""
        _json(json_out)
        with output.client() as c:
            _show(c.autoscaling.set_desired(group, desired))

    @asg.command("update")
    @output.handle_errors
    def update(group: str, min_size: int | None = typer.Option(None, "--min"),
               max_size: int | None = typer.Option(None, "--max"),
               desired: int | None = typer.Option(None, "--desired", help="within min..max"),
               json_out: bool = JSON) -> None:
        """Change a group's bounds and/or its desired capacity."""
        _json(json_out)
        fields = {k: v for k, v in {"min_size": min_size, "max_size": max_size, "desired_capacity": desired}.items()
                  if v is not None}
        if not fields:
            raise typer.BadParameter("nothing to change: give --min, --max or --desired")
        with output.client() as c:
            _show(c.autoscaling.update(group, **fields))

    @asg.command("delete")
    @output.handle_errors
    def delete(group: str, yes: bool = output.YES) -> None:
        """Remove every member, then the group."""
        output.confirm(f"Delete auto-scaling group {group} and its instances?", yes)
        with output.client() as c:
            c.autoscaling.delete(group)
        output.console.print(f"deleting auto-scaling group {group}")
