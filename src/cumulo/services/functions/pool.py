"""The warm pool: per function version, containers with the runtime agent, one invocation each at a time.

``invoke`` takes an idle container, or starts one while fewer than ``max_concurrency`` exist, or waits
for one to free up (429 when none does within the function's timeout). A timeout or a dead agent
(crash, out of memory) discards the container; the next call starts a fresh one. Idle containers
are stopped after ``CUMULO_FUNCTION_IDLE_SECONDS``; old versions stop once their calls finish.
Containers carry ``cumulo.pool=<this pool>`` so leftovers of a crashed process are found and removed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cumulo.core.errors import RateLimited
from cumulo.drivers.functions.docker import SOCKET_MOUNT, ContainerSpec, FunctionDocker
from cumulo.drivers.functions.protocol import AgentConnection, AgentGone
from cumulo.services.functions.runtimes import Runtime

log = logging.getLogger("cumulo.functions.pool")

STARTUP_TIMEOUT = 20.0


@dataclass
class RunSpec:
    function_id: str
    name: str
    user_id: str
    version: int
    runtime: Runtime
    handler: str
    timeout_seconds: int
    memory_mb: int
    max_concurrency: int
    code_dir: Path
    env_factory: Callable[[], Awaitable[dict[str, str]]]
    network: str | None = None


@dataclass
class Outcome:
    ok: bool
    result_json: str | None = None
    error: dict[str, Any] | None = None
    logs: str = ""
    duration_ms: float = 0.0
    cold_start: bool = False
    init_ms: float | None = None


@dataclass
class Worker:
    wid: str
    container_id: str
    conn: AgentConnection
    socket_dir: Path
    busy: bool = True
    last_used: float = field(default_factory=time.monotonic)


@dataclass
class VersionPool:
    workers: list[Worker] = field(default_factory=list)
    starting: int = 0
    retired: bool = False
    cond: asyncio.Condition = field(default_factory=asyncio.Condition)


class StartFailed(Exception):
    def __init__(self, error: dict[str, Any]):
        super().__init__(error.get("message", "start failed"))
        self.error = error


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"type": kind, "message": message, "stack": []}


class Pool:
    def __init__(self, installation_id: str, docker: FunctionDocker):
        self.id = uuid.uuid4().hex[:12]
        self.installation_id = installation_id
        self.docker = docker
        self.versions: dict[tuple[str, int], VersionPool] = {}
        self.wids: set[str] = set()
        self.socket_root = Path(tempfile.gettempdir()) / f"cumulo-fn-{installation_id}"
        self._background: set[asyncio.Task[None]] = set()

    # --- invoking ------------------------------------------------------------------------
    async def invoke(self, spec: RunSpec, event: Any, invocation_id: str) -> Outcome:
        vp = self.versions.setdefault((spec.function_id, spec.version), VersionPool())
        started = time.perf_counter()
        try:
            worker, cold = await self._acquire(vp, spec)
        except StartFailed as exc:
            return Outcome(False, error=exc.error, cold_start=True,
                           duration_ms=(time.perf_counter() - started) * 1000)
        init_ms = (time.perf_counter() - started) * 1000 if cold else None
        request = {"event": event, "context": {
            "function_name": spec.name, "function_version": spec.version, "invocation_id": invocation_id,
            "memory_limit_in_mb": spec.memory_mb, "timeout_ms": spec.timeout_seconds * 1000}}
        began = time.perf_counter()
        try:
            answer = await asyncio.wait_for(worker.conn.call(request), spec.timeout_seconds)
        except TimeoutError:
            self._discard(vp, worker)
            return Outcome(False, error=_error("Runtime.Timeout", f"the invocation timed out after "
                                               f"{spec.timeout_seconds} s; its container was replaced"),
                           duration_ms=(time.perf_counter() - began) * 1000, cold_start=cold, init_ms=init_ms)
        except AgentGone:
            error = await self._why_dead(worker, spec)
            self._discard(vp, worker)
            return Outcome(False, error=error, duration_ms=(time.perf_counter() - began) * 1000,
                           cold_start=cold, init_ms=init_ms)
        duration = (time.perf_counter() - began) * 1000
        await self._release(vp, worker)
        return Outcome(bool(answer.get("ok")), result_json=answer.get("result_json"), error=answer.get("error"),
                       logs=str(answer.get("logs") or ""), duration_ms=duration, cold_start=cold, init_ms=init_ms)

    async def _acquire(self, vp: VersionPool, spec: RunSpec) -> tuple[Worker, bool]:
        deadline = time.monotonic() + spec.timeout_seconds
        async with vp.cond:
            while True:
                idle = next((w for w in vp.workers if not w.busy), None)
                if idle is not None:
                    idle.busy = True
                    return idle, False
                if len(vp.workers) + vp.starting < spec.max_concurrency:
                    vp.starting += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RateLimited(1, f"function '{spec.name}' is at its max_concurrency "
                                         f"({spec.max_concurrency}); retry later")
                try:
                    await asyncio.wait_for(vp.cond.wait(), remaining)
                except TimeoutError:
                    pass
        worker = None
        try:
            worker = await self._start(spec)
        finally:
            async with vp.cond:
                vp.starting -= 1
                if worker is not None:
                    vp.workers.append(worker)
                vp.cond.notify()
        return worker, True

    async def _release(self, vp: VersionPool, worker: Worker) -> None:
        if vp.retired:
            self._discard(vp, worker)
            return
        async with vp.cond:
            worker.busy = False
            worker.last_used = time.monotonic()
            vp.cond.notify()

    def _discard(self, vp: VersionPool, worker: Worker) -> None:
        """Forget a container now and remove it in the background (the caller need not wait)."""
        if worker in vp.workers:
            vp.workers.remove(worker)
        worker.conn.close()

        async def remove() -> None:
            await self.docker.remove(worker.container_id)
            shutil.rmtree(worker.socket_dir, ignore_errors=True)
            self.wids.discard(worker.wid)
            async with vp.cond:
                vp.cond.notify()

        task = asyncio.get_running_loop().create_task(remove())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _why_dead(self, worker: Worker, spec: RunSpec) -> dict[str, Any]:
        state = None
        for _ in range(40):  # the kernel may still be tearing the container down
            state = await self.docker.state(worker.container_id)
            if state is None or not state.running:
                break
            await asyncio.sleep(0.05)
        if state is not None and (state.oom_killed or state.exit_code == 137):
            return _error("Runtime.OutOfMemory", f"the function exceeded its memory limit of {spec.memory_mb} MB")
        code = None if state is None else state.exit_code
        return _error("Runtime.Exited", f"the runtime exited during the invocation (exit code {code})")

    # --- containers ----------------------------------------------------------------------
    def _labels(self, spec: RunSpec, wid: str) -> dict[str, str]:
        return {"cumulo.installation": self.installation_id, "cumulo.kind": "function",
                "cumulo.resource": spec.function_id, "cumulo.owner": spec.user_id,
                "cumulo.version": str(spec.version), "cumulo.pool": self.id, "cumulo.worker": wid,
                "cumulo.host": socket.gethostname(), "cumulo.pid": str(os.getpid())}

    async def _start(self, spec: RunSpec) -> Worker:
        wid = uuid.uuid4().hex[:12]
        self.wids.add(wid)
        socket_dir = self.socket_root / wid
        socket_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(socket_dir, 0o777)  # the agent runs as nobody and creates its socket here
        env = {**await spec.env_factory(), "CUMULO_HANDLER": spec.handler, "HOME": "/tmp", "TMPDIR": "/tmp",
               "CUMULO_SOCKET": f"{SOCKET_MOUNT}/agent.sock", "PYTHONDONTWRITEBYTECODE": "1",
               "CUMULO_FUNCTION_NAME": spec.name, "CUMULO_FUNCTION_VERSION": str(spec.version)}
        container_id = None
        try:
            container_id = await self.docker.start(ContainerSpec(
                name=f"cumulo-fn-{self.installation_id}-{wid}", image=spec.runtime.image,
                command=list(spec.runtime.command), code_dir=str(spec.code_dir), socket_dir=str(socket_dir),
                env=env, labels=self._labels(spec, wid), memory_mb=spec.memory_mb,
                cpus=min(2.0, max(0.5, spec.memory_mb / 1024)), network=spec.network))
            conn = await self._connect(container_id, socket_dir / "agent.sock")
        except BaseException:
            if container_id is not None:
                await self.docker.remove(container_id)
            shutil.rmtree(socket_dir, ignore_errors=True)
            self.wids.discard(wid)
            raise
        return Worker(wid, container_id, conn, socket_dir)

    async def _connect(self, container_id: str, path: Path) -> AgentConnection:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        next_check = time.monotonic() + 0.25
        while not path.exists():
            now = time.monotonic()
            if now > deadline:
                raise StartFailed(_error("Runtime.StartTimeout", f"the runtime did not start in {STARTUP_TIMEOUT} s"))
            if now > next_check:
                next_check = now + 0.25
                state = await self.docker.state(container_id)
                if state is None or not state.running:
                    tail = (await self.docker.logs(container_id, tail=20))[-2000:]
                    kind = "Runtime.OutOfMemory" if state and state.oom_killed else "Runtime.StartFailed"
                    raise StartFailed(_error(kind, f"the runtime exited while starting: {tail}".strip()))
            await asyncio.sleep(0.002)
        while True:  # the agent's socket file appears at bind(), a moment before it listens
            try:
                return await AgentConnection.open(str(path))
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise StartFailed(_error("Runtime.StartTimeout",
                                             f"the runtime did not start in {STARTUP_TIMEOUT} s")) from None
                await asyncio.sleep(0.01)

    # --- housekeeping --------------------------------------------------------------------
    def retire(self, function_id: str, keep_version: int | None = None) -> None:
        """Stop serving other versions of a function: idle containers go now, busy ones after their call."""
        for (fid, version), vp in list(self.versions.items()):
            if fid == function_id and version != keep_version:
                vp.retired = True
                for worker in [w for w in vp.workers if not w.busy]:
                    self._discard(vp, worker)

    def reap(self, idle_seconds: float) -> int:
        now, count = time.monotonic(), 0
        for key, vp in list(self.versions.items()):
            for worker in [w for w in vp.workers if not w.busy and now - w.last_used > idle_seconds]:
                self._discard(vp, worker)
                count += 1
            if not vp.workers and not vp.starting and (vp.retired or count):
                self.versions.pop(key, None)
        return count

    def count(self, function_id: str | None = None) -> int:
        return sum(len(vp.workers) for (fid, _v), vp in self.versions.items()
                   if function_id is None or fid == function_id)

    async def remove_orphans(self) -> int:
        """Remove function containers of this installation that no live pool owns."""
        me = socket.gethostname()
        removed = 0
        for cid, labels in await self.docker.list({"cumulo.installation": self.installation_id,
                                                   "cumulo.kind": "function"}):
            if labels.get("cumulo.pool") == self.id:
                orphan = labels.get("cumulo.worker") not in self.wids
            else:
                orphan = labels.get("cumulo.host") == me and not _alive(labels.get("cumulo.pid", ""))
            if orphan:
                await self.docker.remove(cid)
                removed += 1
        return removed

    async def close(self) -> None:
        for vp in self.versions.values():
            for worker in list(vp.workers):
                worker.conn.close()
        await asyncio.gather(*(self.docker.remove(w.container_id)
                               for vp in self.versions.values() for w in vp.workers), return_exceptions=True)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        for cid, _labels in await self.docker.list({"cumulo.installation": self.installation_id,
                                                    "cumulo.pool": self.id}):
            await self.docker.remove(cid)
        self.versions.clear()
        for wid in list(self.wids):
            shutil.rmtree(self.socket_root / wid, ignore_errors=True)
        self.wids.clear()


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
