"""SSH key pair calls (``/keypairs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


class KeyPairs:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str) -> dict[str, Any]:
        """A new pair: the answer's ``private_key`` is shown this once."""
        return self.c.post("/keypairs", {"name": name})

    def import_key(self, name: str, public_key: str) -> dict[str, Any]:
        return self.c.post("/keypairs", {"name": name, "public_key": public_key})

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/keypairs")

    def get(self, keypair: str) -> dict[str, Any]:
        return self.c.get(f"/keypairs/{keypair}")

    def delete(self, keypair: str) -> None:
        self.c.delete(f"/keypairs/{keypair}")
