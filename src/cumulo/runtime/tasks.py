"""Background-task runner living in the server process (or in ``cumulo worker``).

A *loop* runs a coroutine function every ``interval`` seconds, and at once when woken
(``loop.wake()``), so a write that changes desired state is converged in milliseconds.
Exceptions are logged and the loop carries on; ``stop()`` cancels everything cleanly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

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
    def __init__(self) -> None:
        self.loops: dict[str, Loop] = {}
        self._coros: list[tuple[str, Callable[[], Awaitable[object]]]] = []
        self._tasks: list[asyncio.Task[object]] = []
        self._stopping = asyncio.Event()
        self.started = False

    def every(self, name: str, interval: float, fn: Callable[[], Awaitable[object]]) -> Loop:
        loop = Loop(name, interval, fn)
        self.loops[name] = loop
        if self.started:
            self._tasks.append(asyncio.create_task(loop.run(self._stopping), name=name))
        return loop

    def spawn(self, name: str, fn: Callable[[], Awaitable[object]]) -> None:
        """A long-running coroutine (e.g. a consumer); cancelled at stop."""
        self._coros.append((name, fn))
        if self.started:
            self._tasks.append(asyncio.create_task(fn(), name=name))

    def wake(self, name: str) -> None:
        if name in self.loops:
            self.loops[name].wake()

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        for loop in self.loops.values():
            loop._woken = asyncio.Event()
            self._tasks.append(asyncio.create_task(loop.run(self._stopping), name=loop.name))
        for name, fn in self._coros:
            self._tasks.append(asyncio.create_task(fn(), name=name))
        self.started = True

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        for loop in self.loops.values():
            loop.wake()
        tasks, self._tasks = self._tasks, []
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self.started = False
