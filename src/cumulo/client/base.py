"""The SDK's ``Client``: a ``Transport`` (``client/transport.py``, the HTTP core and ``ApiError``) with one
namespace per service. Each namespace module takes a ``Transport`` and never imports this module, so
the namespaces are imported here on first use only (a CLI command loads just the one it needs)."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from cumulo.client.transport import ApiError, ConnectionFailed, Transport

if TYPE_CHECKING:
    from cumulo.client.apps import Apps
    from cumulo.client.autoscaling import AutoScaling
    from cumulo.client.billing import Billing
    from cumulo.client.caches import Caches
    from cumulo.client.compute import Images, Instances
    from cumulo.client.cron import Cron
    from cumulo.client.databases import Databases
    from cumulo.client.deployments import Deployments
    from cumulo.client.disks import Disks
    from cumulo.client.functions import Functions
    from cumulo.client.identity import Identity
    from cumulo.client.keypairs import KeyPairs
    from cumulo.client.lb import LoadBalancers
    from cumulo.client.network import Network
    from cumulo.client.notify import Notify
    from cumulo.client.queues import Queues
    from cumulo.client.routes import Routes
    from cumulo.client.secrets import Secrets
    from cumulo.client.storage import Storage
    from cumulo.client.volumes import Volumes

__all__ = ["ApiError", "Client", "ConnectionFailed", "Transport"]


class Client(Transport):
    """The SDK: the HTTP core (``Transport``) plus one namespace per service."""

    # --- service namespaces -------------------------------------------------------------
    @cached_property
    def billing(self) -> Billing:
        from cumulo.client.billing import Billing

        return Billing(self)

    @cached_property
    def disks(self) -> Disks:
        from cumulo.client.disks import Disks

        return Disks(self)

    @cached_property
    def keypairs(self) -> KeyPairs:
        from cumulo.client.keypairs import KeyPairs

        return KeyPairs(self)

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
        except self._errors as exc:
            raise ConnectionFailed(f"cannot reach Cumulo at {self.base_url}") from exc
        return response.json()

    def events(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.get("/events", params={"limit": limit})

    def quotas(self) -> list[dict[str, Any]]:
        """The caller's limits and what is used of each (``kind``, ``limit``, ``used``, ``unit``, ``setting``)."""
        return self.get("/quotas")
