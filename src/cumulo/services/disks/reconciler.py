"""Background work of disks: an operation interrupted by a stopped server ends in ``error``; a disk
attached to a deleted instance is released."""

from __future__ import annotations

from cumulo.platform import Platform
from cumulo.services.disks import service


def register(platform: Platform) -> None:
    platform.runner.every("disks.recover", 300.0, lambda: service.recover(platform))
    platform.runner.every("disks.release", 30.0, lambda: service.release_orphans(platform))
