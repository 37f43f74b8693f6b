"""Secrets Manager calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


class Secrets:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, value: str, description: str = "") -> dict[str, Any]:
        return self.c.post("/secrets", {"name": name, "value": value, "description": description})

    def list(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        return self.c.get("/secrets", params={"include_deleted": include_deleted})

    def get(self, ref: str, version: int | None = None) -> dict[str, Any]:
        """Metadata and the value (a read is audited)."""
        params = {"version": version} if version is not None else None
        return self.c.get(f"/secrets/{ref}", params=params)

    def value(self, ref: str, version: int | None = None) -> str:
        return self.get(ref, version)["value"]

    def put(self, ref: str, value: str, description: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"value": value}
        if description is not None:
            body["description"] = description
        return self.c.put(f"/secrets/{ref}", body)

    def delete(self, ref: str, recovery_window_days: int = 30, force: bool = False) -> dict[str, Any] | None:
        return self.c.delete(f"/secrets/{ref}", params={"recovery_window_days": recovery_window_days,
                                                        "force": force})

    def restore(self, ref: str) -> dict[str, Any]:
        return self.c.post(f"/secrets/{ref}/restore")
