"""``cumulo deployments create|list|show|scale|update|rollback|logs|delete``: container deployments."""

from __future__ import annotations

import time
from typing import Any

import typer

from cumulo.cli import output

COLUMNS = ["id", "name", "status", "replicas", "ready_replicas", "revision", "status_reason"]
MEMBER_COLUMNS = ["name", "revision", "state", "health", "address", "restarts", "in_load_balancer", "last_error"]
JSON = typer.Option(False, "--json", help="Print JSON for scripts")
SETTLED = ("RUNNING", "STOPPED", "PAUSED", "DEGRADED")


def _json(flag: bool) -> None:
    if flag:
        output.STATE["json"] = True


def _env(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"env {item!r}: use NAME=VALUE")
        out[key] = value
    return out


def _volumes(items: list[str] | None) -> list[dict[str, Any]] | None:
    """``PATH[:SIZE_GB]`` items: each replica's own volume at PATH (1 GiB by default)."""
    if not items:
        return None
    out = []
    for item in items:
        path, sep, size = item.partition(":")
        if sep and not size.isdigit():
            raise typer.BadParameter(f"volume {item!r}: use PATH or PATH:SIZE_GB")
        out.append({"mount_path": path, "size_gb": int(size) if sep else 1})
    return out


def _show(dep: dict[str, Any]) -> None:
    if output.STATE["json"]:
        output.show(dep)
        return
    output.show({k: v for k, v in dep.items() if k not in ("members", "spec")})
    output.show(dep.get("members", []), MEMBER_COLUMNS, title="replicas")


def _follow(c: Any, dep: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    """Live progress of a rollout until the deployment settles (or ``timeout`` seconds)."""
    if output.STATE["json"]:
        return dep
    last = None
    deadline = time.monotonic() + timeout
    with output.console.status(f"rolling out {dep['name']}") as status:
        while time.monotonic() < deadline:
            dep = c.deployments.get(dep["id"])
            line = (f"{dep['name']}: {dep['status']} revision {dep['revision']}, {dep['ready_replicas']}/"
                    f"{dep['replicas']} ready, {len(dep['members'])} replicas")
            if line != last:
                output.console.print(line + (f" ({dep['status_reason']})" if dep.get("status_reason") else ""))
                status.update(line)
                last = line
            if dep["status"] in SETTLED and dep["ready_replicas"] >= dep["replicas"] == len(dep["members"]):
                break
            if dep["status"] in ("PAUSED", "DEGRADED"):
                break
            time.sleep(0.5)
    return dep


def _health(path: str | None, cmd: str | None, port: int | None, interval: float | None, timeout: float | None,
            retries: int | None, start: float | None) -> dict[str, Any] | None:
    if path is None and cmd is None:
        return None
    values = (("http_path", path), ("command", cmd), ("port", port), ("interval_seconds", interval),
              ("timeout_seconds", timeout), ("retries", retries), ("start_period_seconds", start))
    return {k: v for k, v in values if v is not None}


def register(app: typer.Typer) -> None:
    deps = typer.Typer(help="Container deployments: replicated, health-checked, rolled out without downtime",
                       no_args_is_help=True)
    app.add_typer(deps, name="deployments")

    @deps.command("create")
    @output.handle_errors
    def create(
        name: str,
        image: str = typer.Option(..., "--image", "-i", help="catalogue image or one of yours"),
        replicas: int = typer.Option(1, "--replicas", "-r"),
        port: list[int] | None = typer.Option(None, "--port", "-p", help="container port the replicas serve (repeatable)"),
        env: list[str] | None = typer.Option(None, "--env", "-e", help="NAME=VALUE (repeatable)"),
        command: list[str] | None = typer.Option(None, "--command", help="command and arguments (repeatable)"),
        cpus: float | None = typer.Option(None, "--cpus"),
        memory: int | None = typer.Option(None, "--memory", help="MB per replica"),
        vpc: str | None = typer.Option(None, "--vpc"),
        volume: list[str] | None = typer.Option(None, "--volume", "-v", help="PATH[:SIZE_GB]: each replica's own "
                                                "volume (repeatable; rollouts are then stop-first)"),
        lb: str | None = typer.Option(None, "--lb", help="load balancer the replicas join once healthy"),
        health_path: str | None = typer.Option(None, "--health-path", help="HTTP health check path"),
        health_cmd: str | None = typer.Option(None, "--health-cmd", help="health check command (sh -c)"),
        health_port: int | None = typer.Option(None, "--health-port"),
        interval: float | None = typer.Option(None, "--interval", help="seconds between checks (5)"),
        timeout: float | None = typer.Option(None, "--timeout", help="seconds a check may take (2)"),
        retries: int | None = typer.Option(None, "--retries", help="failures that fail a replica (3)"),
        start_period: float | None = typer.Option(None, "--start-period", help="seconds failures do not count (0)"),
        max_surge: int | None = typer.Option(None, "--max-surge"),
        max_unavailable: int | None = typer.Option(None, "--max-unavailable"),
        order: str | None = typer.Option(None, "--order", help="start-first or stop-first"),
        failure_action: str | None = typer.Option(None, "--failure-action", help="rollback or pause"),
        deadline: int | None = typer.Option(None, "--progress-deadline",
                                            help="seconds a rollout may make no progress before it fails (600)"),
        wait: bool = typer.Option(True, "--wait/--no-wait", help="follow until every replica is ready"),
        json_out: bool = JSON,
    ) -> None:
        """Create a deployment and (with --wait) follow its replicas starting."""
        _json(json_out)
        update = {k: v for k, v in (("max_surge", max_surge), ("max_unavailable", max_unavailable),
                                    ("order", order), ("failure_action", failure_action),
                                    ("progress_deadline_seconds", deadline)) if v is not None}
        with output.client() as c:
            dep = c.deployments.create(
                name, image, replicas=replicas, ports=port or None, env=_env(env), command=command or None,
                cpus=cpus, memory_mb=memory, vpc_id=vpc, load_balancer_id=lb, update=update or None,
                volumes=_volumes(volume),
                health_check=_health(health_path, health_cmd, health_port, interval, timeout, retries, start_period))
            _show(_follow(c, dep) if wait else dep)

    @deps.command("list")
    @output.handle_errors
    def list_deployments(json_out: bool = JSON) -> None:
        """Your deployments."""
        _json(json_out)
        with output.client() as c:
            output.show(c.deployments.list(), COLUMNS)

    @deps.command("show")
    @output.handle_errors
    def show(deployment: str, json_out: bool = JSON) -> None:
        """A deployment with its replicas (health, address, restarts)."""
        _json(json_out)
        with output.client() as c:
            _show(c.deployments.get(deployment))

    @deps.command("scale")
    @output.handle_errors
    def scale(deployment: str, replicas: int,
              wait: bool = typer.Option(True, "--wait/--no-wait"), json_out: bool = JSON) -> None:
        """Set the number of replicas (0 stops them all)."""
        _json(json_out)
        with output.client() as c:
            dep = c.deployments.scale(deployment, replicas)
            _show(_follow(c, dep) if wait else dep)

    @deps.command("update")
    @output.handle_errors
    def update(
        deployment: str,
        image: str | None = typer.Option(None, "--image", "-i"),
        env: list[str] | None = typer.Option(None, "--env", "-e", help="NAME=VALUE: the whole new env (repeatable)"),
        command: list[str] | None = typer.Option(None, "--command"),
        cpus: float | None = typer.Option(None, "--cpus"),
        memory: int | None = typer.Option(None, "--memory"),
        replicas: int | None = typer.Option(None, "--replicas", "-r"),
        wait: bool = typer.Option(True, "--wait/--no-wait", help="follow the rollout"),
        json_out: bool = JSON,
    ) -> None:
        """Roll out a change of image, env, command or resources (a new revision)."""
        _json(json_out)
        fields = {k: v for k, v in (("image", image), ("env", _env(env)), ("command", command or None),
                                    ("cpus", cpus), ("memory_mb", memory), ("replicas", replicas)) if v is not None}
        if not fields:
            raise typer.BadParameter("nothing to change: give --image, --env, --command, --cpus, --memory or "
                                     "--replicas")
        with output.client() as c:
            dep = c.deployments.update(deployment, **fields)
            _show(_follow(c, dep) if wait else dep)

    @deps.command("rollback")
    @output.handle_errors
    def rollback(deployment: str, revision: int | None = typer.Option(None, "--revision", help="default: the previous one"),
                 wait: bool = typer.Option(True, "--wait/--no-wait"), json_out: bool = JSON) -> None:
        """Go back to the previous completed revision (or --revision N)."""
        _json(json_out)
        with output.client() as c:
            dep = c.deployments.rollback(deployment, revision)
            _show(_follow(c, dep) if wait else dep)

    @deps.command("revisions")
    @output.handle_errors
    def revisions(deployment: str, json_out: bool = JSON) -> None:
        """The revision history (the last 10), newest first, with why a revision failed."""
        _json(json_out)
        with output.client() as c:
            output.show(c.deployments.revisions(deployment), ["number", "status", "reason", "created_at"])

    @deps.command("events")
    @output.handle_errors
    def events(deployment: str, limit: int = typer.Option(50, "--limit"), json_out: bool = JSON) -> None:
        """What happened to a deployment (rollouts, replicas replaced, failures), newest first."""
        _json(json_out)
        with output.client() as c:
            output.show(c.deployments.events(deployment, limit))

    @deps.command("metrics")
    @output.handle_errors
    def metrics(deployment: str, since: str | None = typer.Option(None, "--since", help="ISO time (default: the last hour)"),
                json_out: bool = JSON) -> None:
        """The replicas' recorded CPU and memory, summed per sampling pass."""
        _json(json_out)
        with output.client() as c:
            output.show_series(c.deployments.metrics(deployment, since))

    @deps.command("logs")
    @output.handle_errors
    def logs(deployment: str, tail: int = typer.Option(100, "--tail", "-n"),
             replica: str | None = typer.Option(None, "--replica", help="one replica (name or id)"),
             timestamps: bool = typer.Option(False, "--timestamps", "-t", help="show each line's time")) -> None:
        """The last lines of all replicas merged in time order, each prefixed with its replica's name."""
        with output.client() as c:
            typer.echo(c.deployments.logs(deployment, tail=tail, replica=replica, timestamps=timestamps), nl=False)

    @deps.command("delete")
    @output.handle_errors
    def delete(deployment: str, yes: bool = output.YES,
               keep_volumes: bool = typer.Option(False, "--keep-volumes",
                                                 help="keep the per-replica volumes (yours, detached)")) -> None:
        """Drain and remove every replica and its per-replica volumes, then the deployment."""
        what = "all its replicas" + ("" if keep_volumes else " and per-replica volumes")
        output.confirm(f"Delete deployment {deployment} and {what}?", yes)
        with output.client() as c:
            c.deployments.delete(deployment, keep_volumes=keep_volumes)
        output.console.print(f"deleting deployment {deployment}")
