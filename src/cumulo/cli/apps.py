"""``cumulo apps ...``: git-push hosting (create, push, releases, rollback, config vars, domains)."""

from __future__ import annotations

import contextlib
import io
import tarfile
from pathlib import Path

import typer

from cumulo.cli import output

COLUMNS = ["name", "status", "app_type", "release", "url", "git_remote"]
RELEASE_COLUMNS = ["version", "status", "description", "git_rev", "process", "current", "created_at"]


def _pairs(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: use KEY=VALUE")
        out[key] = value
    return out


def register(app: typer.Typer) -> None:
    apps = typer.Typer(help="Apps: git push to deploy, with build detection and a subdomain each",
                       no_args_is_help=True)
    app.add_typer(apps, name="apps")

    @apps.command("create")
    @output.handle_errors
    def create(name: str,
               branch: str = typer.Option("main", "--branch", "-b", help="the branch whose pushes deploy"),
               git_url: str | None = typer.Option(None, "--git-url", help="deploy from this repository (https, http, ssh://, "
                                                  "git@host:path or git://)"),
               git_secret: str | None = typer.Option(None, "--git-secret",
                                                     help="a private --git-url: your secret holding a token "
                                                          "(https) or an OpenSSH deploy key (ssh)"),
               env: list[str] | None = typer.Option(None, "--env", "-e", help="config var KEY=VALUE (repeat)"),
               app_type: str | None = typer.Option(None, "--type", help="docker, nodejs, python, telegram-bot, static"),
               replicas: int = typer.Option(1, "--replicas", help="web processes"),
               ) -> None:
        """Create an app; prints its git remote and url."""
        with output.client() as c:
            created = c.apps.create(name, branch=branch, git_url=git_url, git_secret=git_secret,
                                    env_vars=_pairs(env or []),
                                    app_type=app_type, replicas=replicas)
        if output.STATE["json"]:
            output.show(created)
        else:
            output.show(created, COLUMNS)
            output.console.print(f"push to deploy:  git remote add cumulo {created['git_remote']} && "
                                 f"git push cumulo {created['branch']}")

    @apps.command("list")
    @output.handle_errors
    def list_() -> None:
        """List your apps."""
        with output.client() as c:
            output.show(c.apps.list(), COLUMNS)

    @apps.command("update")
    @output.handle_errors
    def update(name: str, replicas: int | None = typer.Option(None, "--replicas", help="web processes (1-10)"),
               memory: int | None = typer.Option(None, "--memory", help="MB per process (restarts them)"),
               app_type: str | None = typer.Option(None, "--type", help="docker, nodejs, python, telegram-bot, static"),
               branch: str | None = typer.Option(None, "--branch", "-b", help="the branch whose pushes deploy"),
               git_secret: str | None = typer.Option(None, "--git-secret", help="secret for a private git_url ('' for none)"),
               ) -> None:
        """Change an app's processes, memory, type, branch or git secret."""
        fields = {k: v for k, v in {"replicas": replicas, "memory_mb": memory, "app_type": app_type, "branch": branch,
                                    "git_secret": git_secret}.items() if v is not None}
        if not fields:
            raise typer.BadParameter("nothing to change: give --replicas, --memory, --type, --branch or --git-secret")
        with output.client() as c:
            output.show(c.apps.update(name, **fields), COLUMNS)

    @apps.command("status")
    @output.handle_errors
    def status(name: str) -> None:
        """Show one app (name or id)."""
        with output.client() as c:
            output.show(c.apps.get(name))

    @apps.command("git-remote")
    @output.handle_errors
    def git_remote(name: str, remote: str = typer.Option("cumulo", "--remote", help="the remote's name")) -> None:
        """Print the `git remote add` line (git asks for a password: give your API key)."""
        with output.client() as c:
            found = c.apps.get(name)
        if output.STATE["json"]:
            output.show({"git_remote": found["git_remote"], "branch": found["branch"]})
            return
        print(f"git remote add {remote} {found['git_remote']}")
        output.console.print(f"then: git push {remote} {found['branch']}  (user: anything, password: your API "
                             "key; or a credential helper)")

    @apps.command("deploy")
    @output.handle_errors
    def deploy(name: str) -> None:
        """Build and deploy the app's branch again (from its git_url when it has one)."""
        with output.client() as c:
            output.show(c.apps.deploy(name), COLUMNS)

    @apps.command("logs")
    @output.handle_errors
    def logs(name: str, tail: int = typer.Option(100, "--tail", "-n"),
             follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new lines (Ctrl-C stops)"),
             build: str | None = typer.Option(None, "--build", help="a build's log instead (number or id)")) -> None:
        """The app's runtime log (or a build's log)."""
        with output.client() as c:
            if build:
                print(c.apps.build_log(name, build), end="")
                return
            if not follow:
                for line in c.apps.logs(name, tail):
                    print(line)
                return
            with contextlib.suppress(KeyboardInterrupt):
                for line in c.apps.follow_logs(name, tail):
                    print(line, flush=True)

    @apps.command("upload")
    @output.handle_errors
    def upload(name: str, path: Path = typer.Argument(
            Path("."), help="the tree to deploy (.git left out), or a .tar.gz, .tar or .zip of it")) -> None:
        """Deploy a directory or an archive without git; the build log streams."""
        if path.is_file():
            data = path.read_bytes()
        else:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                tar.add(path, arcname=".", filter=lambda info: None if "/.git" in f"/{info.name}" else info)
            data = buf.getvalue()
        with output.client() as c:
            for item in c.apps.upload(name, data):
                if "log" in item:
                    if not output.STATE["json"]:
                        print(item["log"], end="", flush=True)
                elif "error" in item:
                    output.err_console.print(f"[red]error:[/] {item['error']['message']}")
                    raise typer.Exit(1)
                else:
                    output.show(item["release"], RELEASE_COLUMNS)

    @apps.command("builds")
    @output.handle_errors
    def builds(name: str) -> None:
        """The app's builds, newest first (read one's log with `cumulo apps logs APP --build N`)."""
        with output.client() as c:
            output.show(c.apps.builds(name), ["number", "id", "status", "git_rev", "app_type", "error", "created_at",
                                              "finished_at"])

    @apps.command("releases")
    @output.handle_errors
    def releases(name: str) -> None:
        """List the app's releases (newest first)."""
        with output.client() as c:
            output.show(c.apps.releases(name), RELEASE_COLUMNS)

    @apps.command("rollback")
    @output.handle_errors
    def rollback(name: str, release: int | None = typer.Argument(None, help="version (default: the one before)")) -> None:
        """Roll back to an earlier release (its image and config, no rebuild)."""
        with output.client() as c:
            output.show(c.apps.rollback(name, release), RELEASE_COLUMNS)

    config = typer.Typer(help="config vars (a change makes a new release)", no_args_is_help=True)
    apps.add_typer(config, name="config")

    @config.command("show")
    @output.handle_errors
    def config_show(name: str) -> None:
        """Show the app's config vars."""
        with output.client() as c:
            output.show(c.apps.config(name))

    @config.command("set")
    @output.handle_errors
    def config_set(name: str, values: list[str] = typer.Argument(..., help="KEY=VALUE ...")) -> None:
        """Set config vars."""
        with output.client() as c:
            output.show(c.apps.set_config(name, _pairs(values)))

    @config.command("unset")
    @output.handle_errors
    def config_unset(name: str, keys: list[str] = typer.Argument(..., help="KEY ...")) -> None:
        """Remove config vars."""
        with output.client() as c:
            output.show(c.apps.set_config(name, unset=keys))

    domains = typer.Typer(help="custom domains", no_args_is_help=True)
    apps.add_typer(domains, name="domains")

    @domains.command("list")
    @output.handle_errors
    def domains_list(name: str) -> None:
        """List the app's custom domains."""
        with output.client() as c:
            output.show(c.apps.domains(name))

    @domains.command("add")
    @output.handle_errors
    def domains_add(name: str, hostname: str) -> None:
        """Serve the app on another hostname too (point its DNS at the proxy)."""
        with output.client() as c:
            output.show(c.apps.add_domain(name, hostname)["domains"])

    @domains.command("remove")
    @output.handle_errors
    def domains_remove(name: str, hostname: str) -> None:
        """Stop serving the app on a custom hostname."""
        with output.client() as c:
            c.apps.remove_domain(name, hostname)
        output.show({"removed": hostname} if output.STATE["json"] else f"removed {hostname}")

    for verb, doc in (("start", "Start the current release."), ("stop", "Stop the app (its route answers 503)."),
                      ("restart", "Restart the current release (new processes, then the switch).")):
        def command(name: str, _verb: str = verb) -> None:
            with output.client() as c:
                output.show(getattr(c.apps, _verb)(name), COLUMNS)

        command.__doc__ = doc
        apps.command(verb)(output.handle_errors(command))

    @apps.command("purge-cache")
    @output.handle_errors
    def purge_cache(name: str) -> None:
        """Forget the app's cached dependencies (the next push installs them afresh)."""
        with output.client() as c:
            c.apps.purge_cache(name)
        output.show({"purged": name} if output.STATE["json"] else f"purged the cache of {name}")

    @apps.command("delete")
    @output.handle_errors
    def delete(name: str, yes: bool = output.YES) -> None:
        """Delete an app: its processes, releases, images, repository and route."""
        output.confirm(f"Delete app {name}?", yes)
        with output.client() as c:
            c.apps.delete(name)
        output.show({"deleted": name} if output.STATE["json"] else f"deleted {name}")
