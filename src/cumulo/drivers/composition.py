"""``Drivers``: every adapter to the outside world, built in this one place from the settings.

The platform holds one ``Drivers`` (``platform.drivers``); services use its typed attributes and never
build an engine client themselves. Each driver is made on first use (a CLI command or an API process
that never touches Docker never connects to it, and ``import cumulo`` stays cheap: the engine
modules are imported here, lazily) and closed with the platform.

- ``compute``: ``ComputeDriver`` (Docker; QEMU later), ``volumes``: block volumes, ``functions``:
  function containers, ``network``: the VPCs' bridge networks: all on the engine at
  ``CUMULO_DOCKER_HOST`` through ``cumulo.drivers.dockerclient``.
- ``vm``: the QEMU driver (VMs under ``<data dir>/vm/machines``, boot artifacts under ``vm``);
  ``instances``: containers and VMs behind the one compute contract (``drivers.vm.routed``), the
  driver of compute's instances.
- ``blob``: object bytes under the data dir; ``mail``: SMTP or the outbox folder; ``http``: the
  SSRF-guarded outbound client.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cumulo.core.config import Settings

if TYPE_CHECKING:
    import httpx

    from cumulo.drivers.blob.local import LocalBlobStore
    from cumulo.drivers.compute.base import ComputeDriver
    from cumulo.drivers.functions.docker import FunctionDocker
    from cumulo.drivers.mail.base import Mailer
    from cumulo.drivers.network.docker import DockerNetworks
    from cumulo.drivers.vm.qemu import QemuDriver
    from cumulo.drivers.volume.loop import LoopVolumes

log = logging.getLogger("cumulo.drivers")
NAMES = ("compute", "vm", "instances", "network", "volumes", "functions", "blob", "mail", "http")


class Drivers:
    def __init__(self, settings: Settings, installation_id: Callable[[], str]) -> None:
        self.settings = settings
        self._installation_id = installation_id

    @cached_property
    def compute(self) -> ComputeDriver:
        from cumulo.drivers.compute.docker import DockerDriver
        from cumulo.drivers.compute.secretfiles import default_root

        s = self.settings
        return DockerDriver(s.docker_host, secrets_root=default_root(self._installation_id(), s.instance_secrets_dir))

    @cached_property
    def vm(self) -> QemuDriver:
        from cumulo.drivers.vm.artifacts import Artifacts
        from cumulo.drivers.vm.network import VmPorts
        from cumulo.drivers.vm.qemu import QemuDriver

        s = self.settings
        root = s.data_dir.resolve() / "vm"
        return QemuDriver(root / "machines", Artifacts(root, s.docker_host), s.vm_accelerator,
                          s.vm_stop_timeout_seconds, s.vm_kvm_probe_seconds, VmPorts(s.docker_host))

    @cached_property
    def instances(self) -> ComputeDriver:
        from cumulo.drivers.vm.routed import Routed

        return Routed(lambda: self.compute, self.vm)

    @cached_property
    def network(self) -> DockerNetworks:
        from cumulo.drivers.network.docker import DockerNetworks

        return DockerNetworks.at(self.settings.docker_host)

    @cached_property
    def volumes(self) -> LoopVolumes:
        from cumulo.drivers.volume.loop import LoopVolumes

        s = self.settings
        return LoopVolumes.at(s.docker_host, s.data_dir / "volumes", s.volume_backend)

    @cached_property
    def functions(self) -> FunctionDocker:
        from cumulo.drivers.functions.docker import FunctionDocker

        return FunctionDocker.at(self.settings.docker_host)

    @cached_property
    def blob(self) -> LocalBlobStore:
        from cumulo.drivers.blob import make_blob_store

        return make_blob_store(self.settings.data_dir)

    @cached_property
    def mail(self) -> Mailer:
        from cumulo.drivers.mail import make_mailer

        return make_mailer(self.settings)

    @cached_property
    def http(self) -> httpx.AsyncClient:
        from cumulo.drivers.http import settings_ports
        from cumulo.drivers.http.guard import allow_list, guarded_client

        return guarded_client(allow_list(self.settings), own_ports=settings_ports(self.settings))

    def built(self) -> list[str]:
        """The drivers made so far (the others were never needed in this process)."""
        return [name for name in NAMES if name in self.__dict__]

    async def close(self) -> None:
        for name in reversed(self.built()):
            driver: Any = self.__dict__.pop(name)
            closer = getattr(driver, "aclose", None) or getattr(driver, "close", None)
            if closer is None:
                continue
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("error while closing the %s driver", name)
