"""Notify calls: topics, subscriptions, publish, the delivery log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.client.transport import Transport


class Notify:
    def __init__(self, client: Transport):
        self.c = client

    def create_topic(self, name: str) -> dict[str, Any]:
        return self.c.post("/topics", {"name": name})

    def topics(self) -> list[dict[str, Any]]:
        return self.c.get("/topics")

    def topic(self, topic: str) -> dict[str, Any]:
        return self.c.get(f"/topics/{topic}")

    def delete_topic(self, topic: str) -> None:
        self.c.delete(f"/topics/{topic}")

    def publish(self, topic: str, message: str, subject: str | None = None,
                attributes: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"message": message}
        if subject is not None:
            body["subject"] = subject
        if attributes:
            body["attributes"] = attributes
        return self.c.post(f"/topics/{topic}/publish", body)

    def subscribe(self, topic: str, protocol: str, endpoint: str, **options: Any) -> dict[str, Any]:
        """Options: filter_policy, raw_message_delivery, delivery_policy, dead_letter_queue."""
        body = {"topic_id": topic, "protocol": protocol, "endpoint": endpoint, **options}
        return self.c.post("/subscriptions", body)

    def subscriptions(self, topic: str | None = None) -> list[dict[str, Any]]:
        return self.c.get("/subscriptions", params={"topic_id": topic} if topic else None)

    def subscription(self, sub_id: str) -> dict[str, Any]:
        return self.c.get(f"/subscriptions/{sub_id}")

    def unsubscribe(self, sub_id: str) -> None:
        self.c.delete(f"/subscriptions/{sub_id}")

    def deliveries(self, sub_id: str, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        return self.c.get(f"/subscriptions/{sub_id}/deliveries", params=params)
