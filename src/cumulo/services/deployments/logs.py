"""Logs of a deployment's replicas merged in time order.

Every replica's last ``tail`` lines are read with Docker's timestamps (RFC 3339 with up to nine
fraction digits, trailing zeros dropped, so they are parsed rather than compared as text), merged
by time (lines of one replica keep their order; equal times keep the replicas' order), and the
last ``tail`` of the merge are returned as ``[<time> ]<replica> | <line>``.
"""

from __future__ import annotations

import asyncio
import heapq
import re

from sqlalchemy.ext.asyncio import AsyncSession

from cumulo.core.errors import CumuloError, NotFound
from cumulo.drivers.compute import compute_driver
from cumulo.platform import Platform
from cumulo.services.compute import service as compute
from cumulo.services.deployments.models import Deployment, Replica

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) ")
Line = tuple[str, str, str]  # (sort key, the time as Docker gave it, the text)


def parse(text: str) -> list[Line]:
    """One container's timed lines; a line without a time takes the time of the line before it."""
    out: list[Line] = []
    key = stamp = ""
    for raw in text.splitlines():
        m = STAMP.match(raw)
        if m and m.group(3) == "Z":
            key, stamp, raw = f"{m.group(1)}.{(m.group(2) or '').ljust(9, '0')}", m.group(0)[:-1], raw[m.end():]
        out.append((key, stamp, raw))
    return out


def merge(per_replica: list[tuple[str, list[Line]]], tail: int, timestamps: bool) -> str:
    """The last ``tail`` lines of every replica's lines merged by time."""
    streams = [[(key, i, n, name, stamp, text) for n, (key, stamp, text) in enumerate(lines)]
               for i, (name, lines) in enumerate(per_replica)]
    merged = list(heapq.merge(*streams))[-tail:] if tail else []
    rows = [(f"{stamp} " if timestamps and stamp else "") + f"{name} | {text}"
            for _key, _i, _n, name, stamp, text in merged]
    return "\n".join(rows) + ("\n" if rows else "")


async def read(platform: Platform, session: AsyncSession, dep: Deployment, reps: list[Replica], tail: int,
               timestamps: bool) -> str:
    driver = compute_driver(platform)
    containers: list[tuple[str, str]] = []
    for r in reps:
        try:
            inst = await compute.get_instance(session, dep.user_id, r.instance_id)
        except NotFound:
            continue
        if inst.container_id:
            containers.append((r.name, inst.container_id))

    async def one(container_id: str) -> list[Line]:
        try:
            return parse(await driver.timed_logs(container_id, tail))
        except CumuloError:  # removed a moment ago (replaced or retired)
            return []

    texts = await asyncio.gather(*(one(cid) for _name, cid in containers))
    return merge([(name, lines) for (name, _cid), lines in zip(containers, texts, strict=True)], tail, timestamps)
