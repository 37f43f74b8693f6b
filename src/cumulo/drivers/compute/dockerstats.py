"""``DockerStats``: the ``StatsSource`` contract (``contract.py``) on Docker Engine: one sample
(Docker waits for a second reading to compute CPU %, so a call takes about a second). Part of
``DockerDriver``; usable alone (``DockerStats(base_url)``)."""

from __future__ import annotations

from cumulo.drivers.compute.base import Stats
from cumulo.drivers.compute.dockerengine import DockerEngine


class DockerStats(DockerEngine):
    async def stats(self, ref: str) -> Stats:
        s = await self._run(self.api.stats, ref, stream=False)
        cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
        total = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
        system = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
        online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
        cpu_pct = round(total / system * online * 100.0, 2) if system > 0 and total > 0 else 0.0
        mem = s.get("memory_stats") or {}
        detail = mem.get("stats") or {}
        usage = int(mem.get("usage") or 0) - int(detail.get("total_inactive_file", detail.get("inactive_file", 0)))
        nets = (s.get("networks") or {}).values()
        return Stats(cpu_percent=cpu_pct, memory_bytes=max(usage, 0), memory_limit_bytes=int(mem.get("limit") or 0),
                     pids=int((s.get("pids_stats") or {}).get("current") or 0),
                     net_rx_bytes=sum(int(n.get("rx_bytes", 0)) for n in nets),
                     net_tx_bytes=sum(int(n.get("tx_bytes", 0)) for n in nets))
