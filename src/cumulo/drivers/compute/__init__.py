"""Compute drivers: the contract (``base``) and its engines (``docker``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cumulo.drivers.compute.base import ComputeDriver

if TYPE_CHECKING:
    from cumulo.platform import Platform


def compute_driver(platform: Platform) -> ComputeDriver:
    """The platform's compute driver, built on first use and closed with the platform."""
    if "compute.driver" not in platform.extras:
        from cumulo.drivers.compute.docker import DockerDriver
        from cumulo.drivers.compute.secretfiles import default_root

        s = platform.settings
        driver = DockerDriver(s.docker_host, secrets_root=default_root(platform.installation_id,
                                                                       s.instance_secrets_dir))
        platform.extras["compute.driver"] = driver
        platform.closers.append(driver.close)
    return platform.extras["compute.driver"]  # type: ignore[no-any-return]
