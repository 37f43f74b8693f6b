"""A worker process with a test-only reconcile kind, ``probe``: converging a key appends
``enter <key> <pid>`` and, a moment later, ``exit <key> <pid>`` to a log file, so a test can see
whether two processes ever converged one key at once.

Usage: python -m tests.runtime.probe_worker DATABASE_URL DATA_DIR LOG [--no-lease]
(``--no-lease`` takes every lease as granted: the test's check that it would see an overlap.)
Writes ``ready`` to LOG.ready once it listens for signals; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from cumulo.db import locks
from cumulo.platform import build_platform
from cumulo.runtime import reconcile
from cumulo.testing.server import test_settings


async def main(url: str, data_dir: str, log_path: str, no_lease: bool) -> None:
    if no_lease:
        async def granted(*_args: object) -> bool:
            return True
        locks.take_lease = granted  # type: ignore[assignment]
    platform = build_platform(test_settings(data_dir, url))
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    async def converge(key: str) -> None:
        os.write(log, f"enter {key} {os.getpid()}\n".encode())
        await asyncio.sleep(0.05)
        os.write(log, f"exit {key} {os.getpid()}\n".encode())

    reconcile.register(platform, "probe", converge, interval=300.0)
    await platform.runner.start()
    if platform.signals.listening is not None:
        await platform.signals.listening
    Path(f"{log_path}.{os.getpid()}.ready").write_text("ready")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await platform.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], "--no-lease" in sys.argv[4:]))
