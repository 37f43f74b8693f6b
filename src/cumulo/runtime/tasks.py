"""Background-task runner living in the server process (or in ``cumulo worker``).

A *loop* runs a coroutine function every ``interval`` seconds, and at once when woken, so a write
that changes desired state is converged in milliseconds. ``runner.wake(name)`` reaches the loop in
whichever process runs it: with ``signals`` attached (the platform does) the wake-up is a signal,
which crosses processes on PostgreSQL (``runtime/signals.py``); ``loop.wake()`` wakes this
process's loop only. Exceptions are logged and the loop carries on; ``stop()`` cancels everything
cleanly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cumulo.runtime.signals import Signals

WAKE = "wake"  # the signal topic of loop wake-ups; the payload is the loop's name
log = logging.getLogger("cumulo.tasks")


@dataclass
class Loop:
    name: str
    interval: float
    fn: Callable[[], Awaitable[object]]
    _woken: asyncio.Event = field(default_factory=asyncio.Event)
    runs: int = 0

    def wake(self) -> None:
        self._woken.set()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self._woken.clear()
            try:
                await self.fn()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background loop %s failed", self.name)
            self.runs += 1
            try:
                await asyncio.wait_for(self._woken.wait(), timeout=self.interval)
            except TimeoutError:
                pass


class Runner:
    def __init__(self, signals: Signals | None = None) -> None:
        self.signals = signals
        self.loops: dict[str, Loop] = {}
        self._coros: list[tuple[str, Callable[[], Coroutine[Any, Any, object]]]] = []
        self._tasks: list[asyncio.Task[object]] = []  # loops: they finish their pass at stop
        self._spawned: list[asyncio.Task[object]] = []  # long-running coroutines: cancelled at stop
        self._stopping = asyncio.Event()
        self.started = False

    def every(self, name: str, interval: float, fn: Callable[[], Awaitable[object]]) -> Loop:
        loop = Loop(name, interval, fn)
        self.loops[name] = loop
        if self.started:
            self._tasks.append(asyncio.create_task(loop.run(self._stopping), name=name))
        return loop

    def spawn(self, name: str, fn: Callable[[], Coroutine[Any, Any, object]]) -> None:
        """A long-running coroutine (e.g. a consumer); cancelled at stop."""
        self._coros.append((name, fn))
        if self.started:
            self._spawned.append(asyncio.create_task(fn(), name=name))

    def wake(self, name: str) -> None:
        """Run loop ``name`` now, in the process that runs it (this one or, through signals, another)."""
        if self.signals is not None:
            self.signals.send(WAKE, name)
        else:
            self._wake_here(name)

    def _wake_here(self, name: str) -> None:
        loop = self.loops.get(name)
        if loop is not None and self.started:
            loop.wake()

    async def start(self) -> None:
        if self.signals is not None:
            self.signals.on(WAKE, self._wake_here)
            await self.signals.listen()
        self._stopping = asyncio.Event()
        for loop in self.loops.values():
            loop._woken = asyncio.Event()
            self._tasks.append(asyncio.create_task(loop.run(self._stopping), name=loop.name))
        for name, fn in self._coros:
            self._spawned.append(asyncio.create_task(fn(), name=name))
        self.started = True

    async def stop(self, timeout: float = 10.0) -> None:
        if self.signals is not None:
            self.signals.off(WAKE, self._wake_here)
        self._stopping.set()
        for loop in self.loops.values():
            loop.wake()
        spawned, self._spawned = self._spawned, []
        for task in spawned:
            task.cancel()
        await asyncio.gather(*spawned, return_exceptions=True)
        tasks, self._tasks = self._tasks, []
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self.started = False
