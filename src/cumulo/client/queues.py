"""Queue calls: queues, messages (send, receive with long polling, delete), stats, redrive."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cumulo.client.transport import Transport


class Queues:
    def __init__(self, client: Transport):
        self.c = client

    def create(self, name: str, **attrs: Any) -> dict[str, Any]:
        return self.c.post("/queues", {"name": name, **attrs})

    def list(self) -> list[dict[str, Any]]:
        return self.c.get("/queues")

    def get(self, queue: str) -> dict[str, Any]:
        return self.c.get(f"/queues/{queue}")

    def update(self, queue: str, **attrs: Any) -> dict[str, Any]:
        return self.c.put(f"/queues/{queue}", attrs)

    def delete(self, queue: str) -> None:
        self.c.delete(f"/queues/{queue}")

    def purge(self, queue: str) -> int:
        return self.c.post(f"/queues/{queue}/purge")["count"]

    def stats(self, queue: str) -> dict[str, Any]:
        return self.c.get(f"/queues/{queue}/stats")

    def redrive(self, queue: str, destination: str | None = None) -> int:
        body = {"destination": destination} if destination else {}
        return self.c.post(f"/queues/{queue}/redrive", body)["count"]

    def send(self, queue: str, body: str, *, delay_seconds: int | None = None,
             attributes: dict[str, Any] | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"body": body}
        if delay_seconds is not None:
            payload["delay_seconds"] = delay_seconds
        if attributes:
            payload["attributes"] = attributes
        return self.c.post(f"/queues/{queue}/messages", payload)

    def send_batch(self, queue: str, messages: Sequence[dict[str, Any] | str]) -> builtins.list[dict[str, Any]]:
        items = [{"body": m} if isinstance(m, str) else m for m in messages]
        return self.c.post(f"/queues/{queue}/messages/batch", {"messages": items})["messages"]

    def receive(self, queue: str, max_messages: int = 1, wait_seconds: int | None = None,
                visibility_timeout: int | None = None) -> builtins.list[dict[str, Any]]:
        params: dict[str, Any] = {"max_messages": max_messages}
        if wait_seconds is not None:
            params["wait_seconds"] = wait_seconds
        if visibility_timeout is not None:
            params["visibility_timeout"] = visibility_timeout
        return self.c.get(f"/queues/{queue}/messages", params=params)

    def delete_message(self, queue: str, receipt_handle: str) -> None:
        self.c.delete(f"/queues/{queue}/messages/{receipt_handle}")

    def delete_batch(self, queue: str, receipt_handles: builtins.list[str]) -> dict[str, Any]:
        return self.c.post(f"/queues/{queue}/messages/delete", {"receipt_handles": receipt_handles})

    def change_visibility(self, queue: str, receipt_handle: str, visibility_timeout: int) -> None:
        self.c.put(f"/queues/{queue}/messages/{receipt_handle}/visibility",
                   {"visibility_timeout": visibility_timeout})
