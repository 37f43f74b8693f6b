"""VM state from QMP events: every running VM of this installation on this host has one watcher, in
one process, which converges the VM's instance after each event it hears (a pause or resume, a
power-off or reboot inside the guest, a guest panic, QEMU ending), so the instance says so at once
instead of at the next sweep.

- The loop ``compute.vm_events`` (every process that runs background workers; woken after every VM
  boot) starts a watcher for each running VM that has none in this process.
- A watcher first takes the lease ``vm-events:<VM>`` (``db.locks.take_lease``, renewed while it
  watches): with several worker processes (or API processes with workers) only the holder listens
  and acts; the others retry at their next pass, so a holder that dies is replaced once its lease
  expires. The lease is dropped when the VM ends or the process stops.
- After a restart of Cumulo the loop's first pass re-attaches a watcher to every adopted VM; its
  first callback (the VM's ``query-status``) converges a pause that happened meanwhile.
- The periodic sweep (``compute.reconcile``) still converges every instance: an event lost while
  no watcher listened is seen there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from cumulo.core.errors import CumuloError
from cumulo.db import locks
from cumulo.drivers.compute.base import LABEL_INSTALLATION, LABEL_KIND, LABEL_RESOURCE
from cumulo.platform import Platform
from cumulo.services.compute.convergence import KIND, VM_EVENTS, converge
from cumulo.services.compute.vms import vm_driver

log = logging.getLogger("cumulo.compute.vm_events")
LEASE_SECONDS = 30.0
PASS_SECONDS = 3.0  # the loop's period: a VM booted by another process is watched within this
RETRY_SECONDS = 2.0  # a watcher whose monitor failed waits this long before the next attempt


@dataclass
class Watchers:
    platform: Platform
    holder: str = field(default_factory=locks.holder_id)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    holding: set[str] = field(default_factory=set)  # the VMs whose lease this process holds: the ones it watches
    heard: int = 0  # events acted on by this process's watchers (for tests and metrics)

    async def ensure(self) -> None:
        """One pass: a watcher for every running VM of this installation that has none here."""
        labels = {LABEL_INSTALLATION: self.platform.installation_id, LABEL_KIND: KIND}
        running = await asyncio.to_thread(vm_driver(self.platform).running_vms, labels)
        for name, vm_labels in running:
            task = self.tasks.get(name)
            if task is not None and not task.done():
                continue
            instance_id = vm_labels.get(LABEL_RESOURCE)
            if instance_id:
                self.tasks[name] = asyncio.create_task(self._watch(name, instance_id), name=f"vm-events-{name}")

    def watching(self) -> set[str]:
        """The VMs this process listens to: a task still asking for the lease (or told another process
        holds it) does not count."""
        return {name for name in self.holding if (task := self.tasks.get(name)) is not None and not task.done()}

    async def _watch(self, name: str, instance_id: str) -> None:
        lease = f"vm-events:{name}"
        try:
            if not await locks.take_lease(self.platform.db, lease, self.holder, LEASE_SECONDS):
                return  # another process watches this VM
        except Exception as exc:  # noqa: BLE001 - the database is down: the next pass tries again
            log.warning("VM %s: no event lease (%s)", name, exc)
            return
        async with locks.kept(self.platform.db, lease, self.holder, LEASE_SECONDS):
            self.holding.add(name)
            try:
                await self._listen(name, instance_id)
            finally:
                self.holding.discard(name)

    async def _listen(self, name: str, instance_id: str) -> None:
        """Converge the VM's instance after each event it acted on, and once more when it ends."""
        async def changed(event: str, data: dict[str, Any]) -> None:
            log.info("VM %s: %s %s", name, event, data.get("reason") or data.get("status") or "")
            if event == "RESET" or (event == "STATUS" and data.get("status") == "running"):
                return  # a reset the machine rides through; a running VM as expected (mid-boot too)
            self.heard += 1
            await self._converge(instance_id)

        try:
            watched = await vm_driver(self.platform).watch(name, changed)
        except CumuloError as exc:
            log.warning("VM %s: %s", name, exc.message)
            await asyncio.sleep(RETRY_SECONDS)
            return
        if watched:  # the VM ended: its instance says how, now
            await self._converge(instance_id)

    async def _converge(self, instance_id: str) -> None:
        try:
            await converge(self.platform, instance_id)
        except CumuloError as exc:
            log.warning("instance %s not converged after a VM event: %s", instance_id, exc.message)

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()


def watchers(platform: Platform) -> Watchers:
    found: Watchers = platform.get_or_create("compute.vm_watchers", lambda: Watchers(platform))
    return found


def register(platform: Platform) -> None:
    w = watchers(platform)
    platform.runner.every(VM_EVENTS, PASS_SECONDS, w.ensure)
    platform.runner.spawn("compute.vm_watchers", lambda: _closing(w))


async def _closing(w: Watchers) -> None:
    """Cancelled at the runner's stop: the watchers (and their leases) go with it."""
    try:
        await asyncio.Event().wait()
    finally:
        await w.close()
