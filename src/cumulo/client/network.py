"""VPC and subnet calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


class Network:
    def __init__(self, client: Transport):
        self.c = client

    def create_vpc(self, name: str, cidr_block: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name}
        if cidr_block:
            body["cidr_block"] = cidr_block
        return self.c.post("/vpcs", body)

    def vpcs(self) -> list[dict[str, Any]]:
        return self.c.get("/vpcs")

    def vpc(self, vpc: str) -> dict[str, Any]:
        return self.c.get(f"/vpcs/{vpc}")

    def delete_vpc(self, vpc: str) -> None:
        self.c.delete(f"/vpcs/{vpc}")

    def create_subnet(self, vpc: str, name: str, cidr_block: str,
                      availability_zone: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "cidr_block": cidr_block}
        if availability_zone:
            body["availability_zone"] = availability_zone
        return self.c.post(f"/vpcs/{vpc}/subnets", body)

    def subnets(self, vpc: str) -> list[dict[str, Any]]:
        return self.c.get(f"/vpcs/{vpc}/subnets")

    def subnet(self, subnet: str) -> dict[str, Any]:
        return self.c.get(f"/subnets/{subnet}")

    def delete_subnet(self, subnet: str) -> None:
        self.c.delete(f"/subnets/{subnet}")
