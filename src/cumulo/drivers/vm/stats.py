"""A running VM's statistics: CPU time and % and memory of its QEMU process (``/proc``), disk bytes and
operations (QMP ``query-blockstats``), network bytes (its port container's, passed in)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cumulo.drivers.compute.base import Stats
from cumulo.drivers.vm import qmp
from cumulo.drivers.vm.process import cpu_ticks

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class VmStats(Stats):
    cpu_time_seconds: float = 0.0
    disk_read_bytes: int = 0
    disk_write_bytes: int = 0
    disk_read_ops: int = 0
    disk_write_ops: int = 0
    accelerator: str = ""


async def sample(folder: Path, pid: int, memory_mb: int, net: tuple[int, int], accelerator: str) -> VmStats:
    """Half a second of CPU use of QEMU's process ``pid``; ``net``: received and sent bytes."""
    first, t0 = cpu_ticks(pid), time.monotonic()
    await asyncio.sleep(0.5)
    second, t1 = cpu_ticks(pid), time.monotonic()
    cpu_percent = round(100.0 * (second - first) / CLK_TCK / (t1 - t0), 2)
    rss = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    blocks: dict[str, int] = {}
    with contextlib.suppress(qmp.QmpError):
        for dev in await qmp.execute(folder / "qmp.sock", "query-blockstats"):
            st = dev.get("stats", {})
            for key in ("rd_bytes", "wr_bytes", "rd_operations", "wr_operations"):
                blocks[key] = blocks.get(key, 0) + int(st.get(key, 0))
    rx, tx = net
    return VmStats(cpu_percent=cpu_percent, memory_bytes=rss, memory_limit_bytes=memory_mb * 2**20,
                   pids=1, net_rx_bytes=rx, net_tx_bytes=tx, cpu_time_seconds=round(second / CLK_TCK, 2),
                   disk_read_bytes=blocks.get("rd_bytes", 0), disk_write_bytes=blocks.get("wr_bytes", 0),
                   disk_read_ops=blocks.get("rd_operations", 0), disk_write_ops=blocks.get("wr_operations", 0),
                   accelerator=accelerator)
