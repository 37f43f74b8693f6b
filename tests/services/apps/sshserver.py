"""A real SSH server on loopback for the apps tests (asyncssh): public-key authentication for the
authorised keys only, and one command, ``git-upload-pack '<name>.git'``, run by the real git on a
bare repository under ``root``. Anything else is refused with exit 1."""

from __future__ import annotations

import asyncio
import shlex
import threading
from pathlib import Path

import asyncssh


def new_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


def private_text(key: asyncssh.SSHKey) -> str:
    return key.export_private_key("openssh").decode()


class GitSSHServer:
    def __init__(self, root: Path, authorised: list[asyncssh.SSHKey], host_key: asyncssh.SSHKey | None = None,
                 port: int = 0):
        self.root = root
        self.authorised = authorised
        self.host_key = host_key or new_key()
        self.port = port
        self.commands: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._server: asyncssh.SSHAcceptor | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> GitSSHServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> None:
        keys = asyncssh.import_authorized_keys("".join(
            k.export_public_key("openssh").decode() for k in self.authorised))
        self._server = await asyncssh.create_server(
            asyncssh.SSHServer, "127.0.0.1", self.port, server_host_keys=[self.host_key],
            authorized_client_keys=keys, process_factory=self._handle, encoding=None,
            reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        try:
            await self._run(process)
        finally:
            # redirect() leaves its writers' Queue.join() as cleanup tasks that only wait_closed() awaits:
            # without it they are garbage collected unawaited ("coroutine 'Queue.join' was never awaited")
            await process.wait_closed()

    async def _run(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command or ""
        self.commands.append(command)
        argv = shlex.split(command)
        repo = self.root / Path(argv[1]).name if len(argv) == 2 else None
        if argv[:1] != ["git-upload-pack"] or repo is None or not repo.is_dir():
            process.stderr.write(b"only git-upload-pack of a served repository\n")
            process.exit(1)
            return
        proc = await asyncio.create_subprocess_exec("git-upload-pack", str(repo), stdin=asyncio.subprocess.PIPE,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await process.redirect(stdin=proc.stdin, stdout=proc.stdout, stderr=proc.stderr)
        process.exit(await proc.wait())

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close() -> None:
            if self._server:
                self._server.close()
                await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()  # else "unclosed event loop" at collection
