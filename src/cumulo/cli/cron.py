"""`cumulo cron ...`: scheduled jobs, pause/resume, run now, run history."""

from __future__ import annotations

import typer

from cumulo.cli import output
from cumulo.cli.output import handle_errors, show

COLUMNS = ["id", "name", "schedule", "timezone", "target_type", "status", "next_run_at"]
RUN_COLUMNS = ["scheduled_at", "trigger", "status", "status_code", "duration_ms", "attempts", "error"]


def register(app: typer.Typer) -> None:
    cron = typer.Typer(help="Scheduled jobs (cron, @daily, rate(5 minutes))", no_args_is_help=True)
    app.add_typer(cron, name="cron")

    url_opt = typer.Option(None, "--url", help="HTTP target")
    queue_opt = typer.Option(None, "--queue", help="queue target (id or name)")
    topic_opt = typer.Option(None, "--topic", help="topic target (id or name)")
    function_opt = typer.Option(None, "--function", help="function target (id or name): invoked with the payload")
    header_opt = typer.Option([], "--header", "-H", help="'Name: value', repeatable")

    def fields(url: str | None, queue: str | None, topic: str | None, function: str | None, method: str | None,
               payload: str | None, timezone: str | None, header: list[str], retries: int | None,
               timeout: int | None, skip_missed: bool | None) -> dict[str, object]:
        targets = [t for t in (url, queue, topic, function) if t]
        if len(targets) > 1:
            output.err_console.print("error: give one target: --url, --queue, --topic or --function")
            raise typer.Exit(2)
        out: dict[str, object] = {"method": method, "payload": payload, "timezone": timezone, "retries": retries,
                                  "timeout_seconds": timeout}
        if url:
            out.update(target_type="http", target_url=url)
        for kind, ref in (("queue", queue), ("topic", topic), ("function", function)):
            if ref:
                out.update(target_type=kind, target_id=ref)
        if header:
            out["headers"] = {h.split(":", 1)[0].strip(): h.split(":", 1)[1].strip() for h in header if ":" in h}
        if skip_missed is not None:
            out["missed_runs"] = "skip" if skip_missed else "run_once"
        return {k: v for k, v in out.items() if v is not None}

    @cron.command("create")
    @handle_errors
    def create(name: str, schedule: str = typer.Option(..., help="'0 3 * * *', '@hourly' or 'rate(5 minutes)'"),
               url: str | None = url_opt, queue: str | None = queue_opt, topic: str | None = topic_opt, function: str | None = function_opt,
               method: str | None = typer.Option(None), payload: str | None = typer.Option(None),
               timezone: str | None = typer.Option(None, help="IANA zone, default UTC"),
               header: list[str] = header_opt,
               retries: int | None = typer.Option(None), timeout: int | None = typer.Option(None, help="seconds per attempt"),
               skip_missed: bool = typer.Option(False, help="skip runs missed while the server was down")) -> None:
        """Create a scheduled job."""
        body = fields(url, queue, topic, function, method, payload, timezone, header, retries, timeout,
                      skip_missed or None)
        with output.client() as c:
            show(c.cron.create(name, schedule, **body))

    @cron.command("update")
    @handle_errors
    def update(job: str, schedule: str | None = typer.Option(None, help="a new schedule"),
               url: str | None = url_opt, queue: str | None = queue_opt, topic: str | None = topic_opt, function: str | None = function_opt,
               method: str | None = typer.Option(None), payload: str | None = typer.Option(None),
               timezone: str | None = typer.Option(None, help="IANA zone"), header: list[str] = header_opt,
               retries: int | None = typer.Option(None), timeout: int | None = typer.Option(None, help="seconds per attempt"),
               skip_missed: bool | None = typer.Option(None, "--skip-missed/--run-missed-once",
                                                help="runs missed while the server was down")) -> None:
        """Change a job: only the options given change."""
        body = fields(url, queue, topic, function, method, payload, timezone, header, retries, timeout, skip_missed)
        if schedule:
            body["schedule"] = schedule
        if not body:
            output.err_console.print("error: nothing to change: give at least one option (see --help)")
            raise typer.Exit(2)
        with output.client() as c:
            show(c.cron.update(job, **body))

    @cron.command("list")
    @handle_errors
    def list_() -> None:
        """List your jobs."""
        with output.client() as c:
            show(c.cron.list(), COLUMNS)

    @cron.command("show")
    @handle_errors
    def show_(job: str) -> None:
        """Show a job, with its next run."""
        with output.client() as c:
            show(c.cron.get(job))

    @cron.command("delete")
    @handle_errors
    def delete(job: str, yes: bool = output.YES) -> None:
        """Delete a job and its history."""
        output.confirm(f"Delete cron job {job} and its history?", yes)
        with output.client() as c:
            c.cron.delete(job)
        output.console.print(f"deleted job {job}")

    @cron.command("pause")
    @handle_errors
    def pause(job: str) -> None:
        """Pause a job."""
        with output.client() as c:
            show(c.cron.pause(job))

    @cron.command("resume")
    @handle_errors
    def resume(job: str) -> None:
        """Resume a paused job (from now on; paused times are not replayed)."""
        with output.client() as c:
            show(c.cron.resume(job))

    @cron.command("run")
    @handle_errors
    def run(job: str) -> None:
        """Run a job once, now."""
        with output.client() as c:
            show(c.cron.run(job))

    @cron.command("runs")
    @handle_errors
    def runs(job: str, limit: int = typer.Option(20)) -> None:
        """Run history, newest first."""
        with output.client() as c:
            show(c.cron.runs(job, limit), RUN_COLUMNS)
