"""``cumulo routes ...``: API gateway routes (path prefix -> URL, instance or load balancer)."""

from __future__ import annotations

import typer

from cumulo.cli import output

COLUMNS = ["id", "name", "url", "target", "strip_prefix", "require_api_key", "rate_limit"]


def register(app: typer.Typer) -> None:
    routes = typer.Typer(help="API gateway: route a hostname and path prefix to a target", no_args_is_help=True)
    app.add_typer(routes, name="routes")

    @routes.command("create")
    @output.handle_errors
    def create(name: str,
               target: str = typer.Option(..., "--target", "-t", help="http(s)://host[:port][/base], "
                                          "instance:<id>:<port> or loadbalancer:<id>"),
               prefix: str = typer.Option("/", "--prefix", "-p", help="path prefix (segment boundaries)"),
               strip_prefix: bool = typer.Option(False, "--strip-prefix", help="remove the prefix upstream"),
               method: list[str] | None = typer.Option(None, "--method", "-m", help="allowed method (repeat); default all"),
               hostname: str | None = typer.Option(None, "--hostname", help="custom hostname (default: generated)"),
               timeout: float | None = typer.Option(None, "--timeout", help="upstream timeout in seconds (default 60)"),
               preserve_host: bool = typer.Option(False, "--preserve-host", help="send the client's Host upstream"),
               require_api_key: bool = typer.Option(False, "--require-api-key",
                                                    help="callers need an API key of yours or a route key"),
               rate_limit: float | None = typer.Option(None, "--rate-limit", help="requests per second per client IP"),
               ) -> None:
        """Create a route; prints its url."""
        with output.client() as c:
            output.show(c.routes.create(name, target, prefix, strip_prefix=strip_prefix,
                                        methods=[m.upper() for m in method] if method else None,
                                        hostname=hostname, timeout_seconds=timeout, preserve_host=preserve_host,
                                        require_api_key=require_api_key, rate_limit=rate_limit))

    @routes.command("list")
    @output.handle_errors
    def list_() -> None:
        """List your routes."""
        with output.client() as c:
            output.show(c.routes.list(), COLUMNS)

    @routes.command("show")
    @output.handle_errors
    def show(ref: str) -> None:
        """Show one route (id or name)."""
        with output.client() as c:
            output.show(c.routes.get(ref))

    @routes.command("delete")
    @output.handle_errors
    def delete(ref: str, yes: bool = output.YES) -> None:
        """Delete a route (id or name)."""
        output.confirm(f"Delete route {ref}?", yes)
        with output.client() as c:
            c.routes.delete(ref)
        output.show({"deleted": ref} if output.STATE["json"] else f"deleted {ref}")

    @routes.command("key")
    @output.handle_errors
    def key(ref: str, name: str = typer.Option("default", "--name")) -> None:
        """Issue a key for callers of a require_api_key route (shown once)."""
        with output.client() as c:
            output.show(c.routes.create_key(ref, name))

    @routes.command("keys")
    @output.handle_errors
    def keys(ref: str) -> None:
        """The keys of a require_api_key route (never their values)."""
        with output.client() as c:
            output.show(c.routes.keys(ref))

    @routes.command("delete-key")
    @output.handle_errors
    def delete_key(ref: str, key_id: str, yes: bool = output.YES) -> None:
        """Revoke a route key: callers using it get 401."""
        output.confirm(f"Revoke key {key_id} of route {ref}?", yes)
        with output.client() as c:
            c.routes.delete_key(ref, key_id)
        output.show({"deleted": key_id} if output.STATE["json"] else f"revoked {key_id}")

    @routes.command("gateway")
    @output.handle_errors
    def gateway() -> None:
        """The proxy's public ports, base domain and whether it gets certificates from ACME."""
        with output.client() as c:
            output.show(c.routes.gateway())

    @routes.command("ca")
    @output.handle_errors
    def ca() -> None:
        """Print the internal CA certificate (PEM) that signs the proxy's HTTPS hostnames."""
        with output.client() as c:
            typer.echo(c.routes.ca_certificate(), nl=False)
