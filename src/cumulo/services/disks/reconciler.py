"""Background work of disks: an operation interrupted by a stopped server ends in ``error``."""

from __future__ import annotations

from cumulo.platform import Platform
from cumulo.services.disks import service


def register(platform: Platform) -> None:
    platform.runner.every("disks.recover", 300.0, lambda: service.recover(platform))
