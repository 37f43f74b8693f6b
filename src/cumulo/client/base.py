"""HTTP core of the SDK: one ``request`` that turns Cumulo's error model into ``ApiError``."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, Self

import httpx

if TYPE_CHECKING:
    from cumulo.client.apps import Apps
    from cumulo.client.billing import Billing
    from cumulo.client.caches import Caches
    from cumulo.client.autoscaling import AutoScaling
    from cumulo.client.compute import Images, Instances
    from cumulo.client.cron import Cron
    from cumulo.client.databases import Databases
    from cumulo.client.deployments import Deployments
    from cumulo.client.functions import Functions
    from cumulo.client.identity import Identity
    from cumulo.client.lb import LoadBalancers
    from cumulo.client.network import Network
    from cumulo.client.notify import Notify
    from cumulo.client.queues import Queues
    from cumulo.client.routes import Routes
    from cumulo.client.secrets import Secrets
    from cumulo.client.storage import Storage
    from cumulo.client.volumes import Volumes


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details


class ConnectionFailed(Exception):
    """The server did not answer."""


class Client:
    def __init__(self, base_url: str = "http://127.0.0.1:8080", api_key: str | None = None,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key} if self.api_key else {}

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                raw: bool = False, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, json=json, params=params,
                                          headers={**self.headers(), **kwargs.pop("headers", {})}, **kwargs)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"cannot reach Cumulo at {self.base_url}: {exc.__class__.__name__}") from exc
        if response.status_code >= 400:
            try:
                err = response.json()["error"]
                raise ApiError(response.status_code, err.get("code", "ERROR"), err.get("message", ""),
                               err.get("details"))
            except (ValueError, KeyError, TypeError):
                raise ApiError(response.status_code, "ERROR", response.text[:500]) from None
        if raw:
            return response
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, json=json, **kw)

    def put(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    # --- service namespaces -------------------------------------------------------------
    @cached_property
    def billing(self) -> Billing:
        from cumulo.client.billing import Billing

        return Billing(self)

    @cached_property
    def identity(self) -> Identity:
        from cumulo.client.identity import Identity

        return Identity(self)

    @cached_property
    def queues(self) -> Queues:
        from cumulo.client.queues import Queues

        return Queues(self)

    @cached_property
    def notify(self) -> Notify:
        from cumulo.client.notify import Notify

        return Notify(self)

    @cached_property
    def cron(self) -> Cron:
        from cumulo.client.cron import Cron

        return Cron(self)

    @cached_property
    def secrets(self) -> Secrets:
        from cumulo.client.secrets import Secrets

        return Secrets(self)

    @cached_property
    def functions(self) -> Functions:
        from cumulo.client.functions import Functions

        return Functions(self)

    @cached_property
    def storage(self) -> Storage:
        from cumulo.client.storage import Storage

        return Storage(self)

    @cached_property
    def instances(self) -> Instances:
        from cumulo.client.compute import Instances

        return Instances(self)

    @cached_property
    def images(self) -> Images:
        from cumulo.client.compute import Images

        return Images(self)

    @cached_property
    def network(self) -> Network:
        from cumulo.client.network import Network

        return Network(self)

    @cached_property
    def volumes(self) -> Volumes:
        from cumulo.client.volumes import Volumes

        return Volumes(self)

    @cached_property
    def databases(self) -> Databases:
        from cumulo.client.databases import Databases

        return Databases(self)

    @cached_property
    def caches(self) -> Caches:
        from cumulo.client.caches import Caches

        return Caches(self)

    @cached_property
    def lb(self) -> LoadBalancers:
        from cumulo.client.lb import LoadBalancers

        return LoadBalancers(self)

    @cached_property
    def routes(self) -> Routes:
        from cumulo.client.routes import Routes

        return Routes(self)

    @cached_property
    def deployments(self) -> Deployments:
        from cumulo.client.deployments import Deployments

        return Deployments(self)

    @cached_property
    def autoscaling(self) -> AutoScaling:
        from cumulo.client.autoscaling import AutoScaling

        return AutoScaling(self)

    @cached_property
    def apps(self) -> Apps:
        from cumulo.client.apps import Apps

        return Apps(self)

    def health(self) -> dict[str, Any]:
        """Readiness, including a 503 DEGRADED answer (which is information, not an error)."""
        try:
            response = self._http.get("/health/ready")
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"cannot reach Cumulo at {self.base_url}") from exc
        return response.json()  # type: ignore[no-any-return]

    def events(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.get("/events", params={"limit": limit})  # type: ignore[no-any-return]
