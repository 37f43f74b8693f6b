"""The reconcile runtime: converge objects one at a time, woken from any process, with backoff and a
lease, so two workers never converge one object at once.

A service registers a *kind* in its ``reconciler.register(platform)``::

    reconcile.register(platform, "volumes", converge_one, keys=available_ids, interval=60.0,
                       after_sweep=remove_orphans)

- ``converge_one(key)`` makes the world match the database for one object (idempotent: it reads
  the object afresh every time; a missing row means "remove what is left of it").
- ``wake(platform, kind, key)``, from any process (the API, another worker), queues ``key`` in
  every worker that registered ``kind``: a signal, across processes on PostgreSQL
  (``runtime/signals.py``). Repeated wakes of one key coalesce: it is queued once, and a key woken
  while it converges runs once more afterwards (the wake may describe a change it did not see).
- Every ``interval`` seconds (and at start) a sweep queues every key from ``keys()``, then runs
  ``after_sweep()`` (e.g. an orphan sweep): a lost wake-up costs at most one period.
- Before converging a key the worker takes the lease ``reconcile:<kind>:<key>``
  (``cumulo.db.locks.take_lease``), renewed while it runs: if another worker holds it, the key is
  looked at again shortly (that worker may have read the object before the change that woke us).
- Failures back off exponentially per key (``BACKOFF`` seconds, doubling, at most
  ``MAX_BACKOFF``). A temporary error (``TemporaryError``, ``Unavailable``: the engine is busy or
  down) is retried by itself at that time and logged as a warning; any other error is logged with
  its traceback and waits for the next sweep, which skips keys still backing off. An explicit wake
  runs a key at once, whatever its backoff (a user acted).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from cumulo.core.errors import Unavailable
from cumulo.db import locks
from cumulo.platform import Platform

log = logging.getLogger("cumulo.reconcile")
BACKOFF = 1.0
MAX_BACKOFF = 300.0
LEASE_SECONDS = 60.0
BUSY_RETRY = 0.5  # the lease is held elsewhere: look again after this long
CONCURRENCY = 4  # keys of one kind converged at once in one process


class TemporaryError(Exception):
    """A failure expected to pass by itself (an engine restarting, a peer not ready): retried with
    backoff without waiting for the next sweep."""


TEMPORARY: tuple[type[BaseException], ...] = (TemporaryError, Unavailable)

Converge = Callable[[str], Awaitable[object]]
Keys = Callable[[], Awaitable[Iterable[str]]]
Sweep = Callable[[], Awaitable[object]]


def topic(kind: str) -> str:
    return f"reconcile.{kind}"


def wake(platform: Platform, kind: str, key: str) -> None:
    """Converge ``key`` of ``kind`` now, in whichever worker process runs that kind."""
    platform.signals.send(topic(kind), key)


@contextlib.asynccontextmanager
async def holding(platform: Platform, kind: str, key: str, seconds: float, *, tries: int = 240,
                  pause: float = 0.25) -> AsyncIterator[None]:
    """Hold ``key``'s lease (``reconcile:<kind>:<key>``, as a worker converging it does) while a request
    changes the object's world itself (a stop, a start): a pass that read the row before the change
    would undo it, or write its status again later (moving the moment the billing meter reads). A pass
    in progress is waited for (``tries`` looks, ``pause`` seconds apart), then 503; ``seconds`` should
    cover the request's work (the lease is not renewed)."""
    lease, holder = f"reconcile:{kind}:{key}", f"request:{uuid.uuid4().hex}"
    for _ in range(tries):
        if await locks.take_lease(platform.db, lease, holder, seconds):
            break
        await asyncio.sleep(pause)
    else:
        raise Unavailable(f"the {kind} {key} is being repaired; try again in a moment")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await locks.drop_lease(platform.db, lease, holder)


@dataclass
class _State:
    failures: int = 0
    retry_at: float = 0.0  # monotonic; 0 when not backing off
    last_error: str | None = None


@dataclass
class Reconciler:
    platform: Platform
    kind: str
    converge: Converge
    keys: Keys | None = None
    after_sweep: Sweep | None = None
    lease_seconds: float = LEASE_SECONDS
    concurrency: int = CONCURRENCY
    holder: str = field(default_factory=locks.holder_id)
    states: dict[str, _State] = field(default_factory=dict)
    attempts: int = 0  # converge calls so far (for tests and metrics)
    _due: dict[str, float] = field(default_factory=dict)  # queued keys -> when they may run (monotonic)
    _running: set[str] = field(default_factory=set)
    _again: set[str] = field(default_factory=set)  # woken while converging: run once more
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    # --- queueing --------------------------------------------------------------------------------
    def enqueue(self, key: str, *, at: float | None = None, woken: bool = True) -> None:
        """Queue ``key`` (coalesced with a queued or running one). A wake runs it now; a sweep
        (``woken=False``) respects its backoff."""
        now = time.monotonic()
        when = now if at is None else at
        state = self.states.get(key)
        if not woken and state is not None and state.retry_at > when:
            return  # still backing off: the retry (or the next sweep after it) will come
        if key in self._running:
            self._again.add(key)
            return
        self._due[key] = min(self._due.get(key, when), when)
        self._changed.set()

    async def sweep(self) -> None:
        if self.keys is not None:
            for key in await self.keys():
                self.enqueue(key, woken=False)
        if self.after_sweep is not None:
            await self.after_sweep()

    # --- the worker ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Converge queued keys as they come due, ``concurrency`` at a time (cancelled at stop)."""
        active: set[asyncio.Task[None]] = set()
        try:
            while True:
                self._changed.clear()
                now = time.monotonic()
                ready = sorted((k for k, t in self._due.items() if t <= now), key=self._due.__getitem__)
                for key in ready[: max(self.concurrency - len(active), 0)]:
                    del self._due[key]
                    self._running.add(key)
                    task = asyncio.create_task(self._one(key), name=f"reconcile-{self.kind}-{key}")
                    active.add(task)
                    task.add_done_callback(active.discard)
                    task.add_done_callback(lambda _t: self._changed.set())
                timeout = None  # all slots busy: a finishing task sets _changed
                if len(active) < self.concurrency and self._due:
                    timeout = max(min(self._due.values()) - now, 0.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=timeout)
        finally:
            for task in list(active):
                task.cancel()
            await asyncio.gather(*active, return_exceptions=True)

    async def _one(self, key: str) -> None:
        retry_at = None
        try:
            retry_at = await self._attempt(key)
        finally:
            self._running.discard(key)
            if key in self._again:  # woken while it ran: at once
                self._again.discard(key)
                self.enqueue(key)
            elif retry_at is not None:
                self.enqueue(key, at=retry_at)

    async def _attempt(self, key: str) -> float | None:
        """Converge ``key`` under its lease; when to try again by itself (None: at the next wake
        or sweep)."""
        db, lease = self.platform.db, f"reconcile:{self.kind}:{key}"
        try:
            taken = await locks.take_lease(db, lease, self.holder, self.lease_seconds)
        except Exception as exc:  # noqa: BLE001 - the database is down: like any temporary error
            return self._failed(key, exc, temporary=True)
        if not taken:
            return time.monotonic() + BUSY_RETRY
        async with locks.kept(db, lease, self.holder, self.lease_seconds):
            try:
                self.attempts += 1
                await self.converge(key)
            except asyncio.CancelledError:
                raise
            except TEMPORARY as exc:
                return self._failed(key, exc, temporary=True)
            except Exception as exc:  # noqa: BLE001 - logged with its traceback in _failed
                return self._failed(key, exc, temporary=False)
            self.states.pop(key, None)
            return None

    def _failed(self, key: str, exc: BaseException, *, temporary: bool) -> float | None:
        state = self.states.setdefault(key, _State())
        state.failures += 1
        delay = min(BACKOFF * 2 ** (state.failures - 1), MAX_BACKOFF)
        state.retry_at = time.monotonic() + delay
        state.last_error = str(getattr(exc, "message", None) or exc) or exc.__class__.__name__
        if temporary:
            log.warning("%s %s: %s (attempt %d; retrying in %.1f s)", self.kind, key, state.last_error,
                        state.failures, delay)
            return state.retry_at
        log.error("%s %s failed (attempt %d; not before %.1f s)", self.kind, key, state.failures, delay,
                  exc_info=exc)
        return None


def register(platform: Platform, kind: str, converge: Converge, *, keys: Keys | None = None,
             interval: float = 60.0, after_sweep: Sweep | None = None, lease_seconds: float = LEASE_SECONDS,
             concurrency: int = CONCURRENCY) -> Reconciler:
    """Run ``kind``'s reconciler in this process's runner (see the module docstring)."""
    reconciler = Reconciler(platform, kind, converge, keys=keys, after_sweep=after_sweep,
                            lease_seconds=lease_seconds, concurrency=concurrency)
    platform.runner.every(f"{kind}.sweep", interval, reconciler.sweep)
    platform.runner.spawn(f"{kind}.converge", reconciler.run)
    platform.signals.on(topic(kind), lambda key: reconciler.enqueue(key) if platform.runner.started else None)
    kinds: dict[str, Reconciler] = platform.get_or_create("reconcile.kinds", dict)
    kinds[kind] = reconciler
    return reconciler


def reconciler(platform: Platform, kind: str) -> Reconciler:
    """The registered reconciler of ``kind`` in this process (KeyError when it runs elsewhere)."""
    kinds: dict[str, Reconciler] = platform.get_or_create("reconcile.kinds", dict)
    return kinds[kind]
