"""A small QMP client: one JSON command at a time over the VM's unix socket (events are skipped)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from cumulo.core.errors import Unavailable


class QmpError(Unavailable):
    code = "QMP_ERROR"


async def execute(socket: Path, command: str, arguments: dict[str, Any] | None = None,
                  timeout: float = 5.0) -> Any:
    """Connect, negotiate, run ``command`` and return its ``return`` value."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(str(socket), limit=2**22)
            try:
                await _reply(reader)  # the greeting
                writer.write(b'{"execute": "qmp_capabilities"}\n')
                await _reply(reader)
                msg: dict[str, Any] = {"execute": command}
                if arguments:
                    msg["arguments"] = arguments
                writer.write(json.dumps(msg).encode() + b"\n")
                await writer.drain()
                return await _reply(reader)
            finally:
                writer.close()
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        raise QmpError(f"the VM's monitor does not answer ({command}): {str(exc) or type(exc).__name__}") from exc


async def _reply(reader: asyncio.StreamReader) -> Any:
    while True:
        line = await reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        msg = json.loads(line)
        if "event" in msg:
            continue
        if "error" in msg:
            raise QmpError(f"QMP: {msg['error'].get('desc', msg['error'])}")
        return msg.get("return", msg.get("QMP"))
