"""Host side of the agent protocol: length-prefixed JSON frames over a Unix socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from typing import Any

MAX_FRAME = 16 * 1024 * 1024


class AgentGone(Exception):
    """The agent closed the connection (crashed, killed or out of memory)."""


class AgentConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, path: str) -> AgentConnection:
        reader, writer = await asyncio.open_unix_connection(path, limit=MAX_FRAME)
        return cls(reader, writer)

    async def call(self, request: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(request).encode()
        self.writer.write(struct.pack(">I", len(data)) + data)
        try:
            await self.writer.drain()
            header = await self.reader.readexactly(4)
            size = struct.unpack(">I", header)[0]
            if size > MAX_FRAME:
                raise AgentGone("the agent sent an oversized frame")
            answer: dict[str, Any] = json.loads(await self.reader.readexactly(size))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            raise AgentGone(str(exc) or exc.__class__.__name__) from exc
        return answer

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead socket
            self.writer.close()
