"""``cumulo vpcs ...`` and ``cumulo subnets ...``: private networks."""

from __future__ import annotations

import typer

from cumulo.cli import output

VPC_COLUMNS = ["id", "name", "cidr_block", "subnet_count", "network_name", "created_at"]
SUBNET_COLUMNS = ["id", "name", "vpc_id", "cidr_block", "availability_zone", "available_ip_count"]


def register(app: typer.Typer) -> None:
    vpcs = typer.Typer(help="VPCs: isolated private networks", no_args_is_help=True)
    subnets = typer.Typer(help="Subnets: address ranges inside a VPC", no_args_is_help=True)
    app.add_typer(vpcs, name="vpcs")
    app.add_typer(subnets, name="subnets")

    @vpcs.command("create")
    @output.handle_errors
    def create_vpc(name: str, cidr: str | None = typer.Option(None, "--cidr", help="e.g. 10.20.0.0/16 (default: a free /16)")) -> None:
        """Create a VPC."""
        with output.client() as c:
            output.show(c.network.create_vpc(name, cidr))

    @vpcs.command("list")
    @output.handle_errors
    def list_vpcs() -> None:
        """List your VPCs."""
        with output.client() as c:
            output.show(c.network.vpcs(), VPC_COLUMNS)

    @vpcs.command("show")
    @output.handle_errors
    def show_vpc(vpc: str) -> None:
        """Show a VPC (id or name)."""
        with output.client() as c:
            output.show(c.network.vpc(vpc))

    @vpcs.command("delete")
    @output.handle_errors
    def delete_vpc(vpc: str, yes: bool = output.YES) -> None:
        """Delete a VPC and its empty subnets (refused while instances use it)."""
        output.confirm(f"Delete VPC {vpc} and its subnets?", yes)
        with output.client() as c:
            c.network.delete_vpc(vpc)
        output.show(f"deleted {vpc}")

    @subnets.command("create")
    @output.handle_errors
    def create_subnet(vpc: str, name: str, cidr: str = typer.Option(..., "--cidr", help="inside the VPC's block"),
                      az: str | None = typer.Option(None, "--az", help="availability zone label")) -> None:
        """Create a subnet in a VPC."""
        with output.client() as c:
            output.show(c.network.create_subnet(vpc, name, cidr, az))

    @subnets.command("list")
    @output.handle_errors
    def list_subnets(vpc: str) -> None:
        """List the subnets of a VPC."""
        with output.client() as c:
            output.show(c.network.subnets(vpc), SUBNET_COLUMNS)

    @subnets.command("show")
    @output.handle_errors
    def show_subnet(subnet: str) -> None:
        """Show a subnet."""
        with output.client() as c:
            output.show(c.network.subnet(subnet))

    @subnets.command("delete")
    @output.handle_errors
    def delete_subnet(subnet: str, yes: bool = output.YES) -> None:
        """Delete a subnet (refused while instances use it)."""
        output.confirm(f"Delete subnet {subnet}?", yes)
        with output.client() as c:
            c.network.delete_subnet(subnet)
        output.show(f"deleted {subnet}")
